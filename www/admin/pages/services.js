// Services: contact-center queues, their licences, modalities, members, owners,
// workflow, languages, privacy text and theme. A Service Owner sees only theirs.

import { ApiError, describe, get, put, seg } from "../api.js";
import { checkboxes, field, formProblem, h, replace, setFieldError, table } from "../dom.js";
import { dangerZone } from "./danger.js";
import { loadConnector, whatsappCard } from "./whatsapp.js";

export const title = "Services";

export const LICENCES = [
  ["contact_center", "Contact center (chat workflows)"],
  ["interact", "Interact (reachable from websites)"],
];

export const MODALITIES = [
  ["chat", "Chat"],
  ["audio", "Audio calls"],
  ["video", "Video calls"],
  ["screen_share", "Screen sharing"],
];

/** Splits "en, de" or one-per-line text into a list. */
export function list(text) {
  return text
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Which field of `names` a server message is about (its first word naming one), or null. */
export function fieldOf(message, names) {
  const m = /^([a-z_]+)(?:\.[a-z_]+)?\s*:/.exec(message);
  if (m && names.includes(m[1])) return m[1];
  // The longest name first: "av_workflow" before "workflow".
  const longestFirst = [...names].sort((a, b) => b.length - a.length);
  return longestFirst.find((n) => new RegExp(`\\b${n}\\b`).test(message)) ?? null;
}

export async function render(ctx, [id]) {
  if (id !== undefined) return renderOne(ctx, id);
  const services = await get("/admin/v1/services");
  if (!ctx.current()) return;
  const rows = services.map((x) => [
    h("a", { href: `#/services/${seg(x.id)}` }, x.display_name || x.id),
    h("code", {}, x.id),
    (x.licences ?? []).join(", ") || "none",
    (x.modalities ?? []).join(", "),
    String((x.members ?? []).length),
    (x.owners ?? []).join(", ") || "—",
    x.workflow ?? "—",
  ]);
  let create = null;
  if (ctx.isTenantAdmin) {
    const idInput = h("input", { type: "text", name: "id", autocomplete: "off", spellcheck: "false" });
    const idField = field("Id", idInput, { help: "Letters, digits and '-'; it cannot change later." });
    create = h(
      "form",
      { class: "card form", novalidate: true, "aria-labelledby": "new-service-heading" },
      h("h2", { id: "new-service-heading" }, "New service"),
      idField.field,
      h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Open the settings")),
    );
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      const newId = idInput.value.trim();
      if (newId) ctx.navigate(`#/services/${seg(newId)}`);
      else setFieldError(idField, "Enter an id.");
    });
  }
  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, ctx.isTenantAdmin ? "Every service of the tenant." : "The services you own."),
    table("Services", ["Name", "Id", "Licences", "Modalities", "Members", "Owners", "Workflow"], rows, { empty: "No services." }),
    create,
  );
}

async function renderOne(ctx, id) {
  let service = null;
  try {
    service = await get(`/admin/v1/services/${seg(id)}`);
  } catch (e) {
    // A new service (Tenant Admins only); anything else (403 included) is the page's error.
    if (!(e instanceof ApiError) || e.status !== 404 || !ctx.isTenantAdmin || /no route/.test(e.message)) throw e;
  }
  const [users, workflows, whatsapp] = await Promise.all([
    get("/admin/v1/users").catch(() => null),
    get("/admin/v1/workflows").catch(() => []),
    // The WhatsApp connector: Tenant Admins only (it holds a secret's reference).
    service && ctx.isTenantAdmin
      ? loadConnector(id).then(
          (connector) => ({ connector }),
          (error) => ({ error }),
        )
      : null,
  ]);
  if (!ctx.current()) return;
  const x = service ?? { id, display_name: "", licences: [], modalities: ["chat"], members: [], owners: [], workflow: null, languages: ["en"], privacy: { url: "", text: "", version: "" }, theme: {} };

  const fields = {};
  const displayName = h("input", { type: "text", name: "display_name", value: x.display_name ?? "", autocomplete: "off" });
  fields.display_name = field("Display name", displayName, { help: "What visitors read in the widget." });
  const licences = checkboxes("Licences", LICENCES, x.licences, "licences");
  if (!ctx.isTenantAdmin) {
    // Only a Tenant Admin changes licences (and owners); shown, sent back unchanged.
    for (const box of licences.node.querySelectorAll("input")) box.disabled = true;
    licences.node.append(h("p", { class: "help" }, "Only a Tenant Admin changes licences."));
  }
  const modalities = checkboxes("Modalities", MODALITIES, x.modalities, "modalities");

  // Members and owners: users to tick, or ids to type where the user list is not readable.
  const people = (legend, chosen, name) => {
    if (users) {
      const c = checkboxes(legend, users.map((u) => [u.id, `${u.display_name} (${u.id})`]), chosen, name);
      return { node: c.node, values: c.values };
    }
    const area = h("textarea", { name, rows: "3", spellcheck: "false", class: "mono" });
    area.value = (chosen ?? []).join("\n");
    const f = field(`${legend} (user ids, one per line)`, area);
    fields[name] = f;
    return { node: f.field, values: () => list(area.value) };
  };
  const members = people("Members (agents who take its chats)", x.members, "members");
  let owners;
  if (ctx.isTenantAdmin) {
    owners = people("Owners (Service Owners who manage it)", x.owners, "owners");
  } else {
    const kept = x.owners ?? [];
    owners = { node: h("p", {}, h("strong", {}, "Owners: "), kept.join(", ") || "—"), values: () => kept };
  }
  // A workflow runs chats, or calls when its definition says modality = "audio_video".
  const forCalls = (w) => /^\s*modality\s*=\s*["']audio_video["']/m.test(w.definition ?? "");
  const pick = (name, current, none, list) => {
    const select = h(
      "select",
      { name },
      h("option", { value: "" }, none),
      list.map((w) => h("option", { value: w.name, selected: w.name === current }, w.name)),
    );
    if (current && !list.some((w) => w.name === current)) {
      select.append(h("option", { value: current, selected: true }, current));
    }
    return select;
  };
  const workflow = pick("workflow", x.workflow, "None (chats go straight to the queue)", workflows.filter((w) => !forCalls(w)));
  fields.workflow = field("Workflow", workflow);
  const avWorkflow = pick("av_workflow", x.av_workflow, "None", workflows.filter(forCalls));
  fields.av_workflow = field("Call workflow (Audio/Video)", avWorkflow, {
    help: "A workflow with modality = \"audio_video\", for calls started from the widget.",
  });
  const languages = h("input", { type: "text", name: "languages", value: (x.languages ?? []).join(", "), autocomplete: "off", spellcheck: "false" });
  fields.languages = field("Languages, preferred first", languages, { help: "BCP 47 tags, e.g. en, de." });
  const privacyUrl = h("input", { type: "text", inputmode: "url", name: "privacy_url", value: x.privacy?.url ?? "", autocomplete: "off", spellcheck: "false" });
  const privacyText = h("textarea", { name: "privacy_text", rows: "3" });
  privacyText.value = x.privacy?.text ?? "";
  const privacyVersion = h("input", { type: "text", name: "privacy_version", value: x.privacy?.version ?? "", autocomplete: "off" });
  fields.privacy = field("Privacy policy URL", privacyUrl);
  const privacyTextField = field("Consent text visitors agree to", privacyText);
  const privacyVersionField = field("Privacy version", privacyVersion, { help: "Change it whenever the text changes; each consent is stored with it." });
  const theme = h("textarea", { name: "theme", rows: "4", spellcheck: "false", class: "mono" });
  theme.value = JSON.stringify(x.theme ?? {}, null, 2);
  fields.theme = field("Theme (JSON)", theme, { help: "The widget's colours, e.g. {\"accent_color\": \"#0b63ce\"}." });

  const problem = formProblem();
  const save = h("button", { class: "btn btn-primary", type: "submit" }, service ? "Save service" : "Create service");
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "service-form-heading" },
    h("h2", { id: "service-form-heading" }, "Settings"),
    problem.node,
    fields.display_name.field,
    h("div", { class: "row" }, licences.node, modalities.node),
    members.node,
    owners.node,
    fields.workflow.field,
    fields.av_workflow.field,
    fields.languages.field,
    h("fieldset", { class: "group" }, h("legend", {}, "Privacy"), fields.privacy.field, privacyTextField.field, privacyVersionField.field),
    fields.theme.field,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    for (const f of Object.values(fields)) setFieldError(f, "");
    let themeValue;
    try {
      themeValue = JSON.parse(theme.value.trim() || "{}");
    } catch (e) {
      setFieldError(fields.theme, `Not JSON: ${e.message}`);
      theme.focus();
      return;
    }
    // What the page does not edit goes back as it came (the id is the path's).
    const { id: _id, ...kept } = service ?? {};
    const body = {
      ...kept,
      display_name: displayName.value.trim(),
      licences: licences.values(),
      modalities: modalities.values(),
      members: members.values(),
      owners: owners.values(),
      workflow: workflow.value || null,
      av_workflow: avWorkflow.value || null,
      languages: list(languages.value),
      privacy: { url: privacyUrl.value.trim(), text: privacyText.value.trim(), version: privacyVersion.value.trim() },
      theme: themeValue,
    };
    save.disabled = true;
    try {
      await put(`/admin/v1/services/${seg(id)}`, body);
      ctx.announce(`Service ${body.display_name || id} saved; it applies at once.`);
      save.textContent = "Save service";
    } catch (e) {
      const name = e instanceof ApiError && e.status === 400 ? fieldOf(e.message, Object.keys(fields)) : null;
      if (name) {
        setFieldError(fields[name], e.message);
        fields[name].control.focus();
      } else {
        problem.show(describe(e));
      }
    } finally {
      save.disabled = false;
    }
  });

  const danger =
    service && ctx.isTenantAdmin
      ? dangerZone(ctx, {
          button: "Delete service",
          question: `Delete the service ${id}? Revoke its embed codes first; its reports stay.`,
          confirmLabel: "Delete service",
          path: `/admin/v1/services/${seg(id)}`,
          done: `Service ${id} deleted.`,
          back: "#/services",
        })
      : null;

  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/services" }, "Services")),
    h("h1", {}, `Service: ${x.display_name || id}`),
    service ? null : h("p", { class: "alert alert-info" }, "A new service: nothing is stored until you create it."),
    form,
    whatsapp ? whatsappCard(ctx, id, whatsapp, (service.licences ?? []).includes("contact_center")) : null,
    danger,
  );
}
