// Embed codes: create one for a service or a user with a Domain Template, copy its
// snippet, open its Preview (a signed link), make its identity secret, revoke it.

import { ApiError, del, describe, get, post, seg } from "../api.js";
import { copyText, field, formProblem, h, replace, setFieldError, table, when } from "../dom.js";

export const title = "Embed codes";

/** `service:support` for a target object. */
export function targetText(target) {
  if (target && typeof target === "object") return `${target.kind}:${target.id}`;
  return String(target ?? "");
}

/** The target object for `service:support` (or null). */
export function parseTarget(text) {
  const m = /^(service|user):(.+)$/.exec(text.trim());
  return m ? { kind: m[1], id: m[2] } : null;
}

/** A read-only snippet box with a Copy button. */
function snippetBox(ctx, code, snippet) {
  const area = h("textarea", { readonly: true, rows: "3", class: "mono snippet", spellcheck: "false", "data-snippet": code });
  area.value = snippet;
  const copied = h("span", { class: "copied", role: "status" });
  const copy = h("button", { class: "btn", type: "button", "data-copy": code }, "Copy snippet");
  copy.addEventListener("click", async () => {
    const message = await copyText(area.value, area);
    copied.textContent = message;
    ctx.announce(message);
  });
  const f = field(`Snippet for ${code}`, area, { help: "Paste it into the website's pages, before </body>." });
  return h("div", { class: "snippet-box" }, f.field, h("div", { class: "actions" }, copy, copied));
}

/** The identity secret, shown once, with a Copy button and how a website uses it. */
function secretBox(ctx, code, secret) {
  const input = h("input", { readonly: true, class: "mono secret", spellcheck: "false", "data-secret": code });
  input.value = secret;
  const copied = h("span", { class: "copied", role: "status" });
  const copy = h("button", { class: "btn", type: "button" }, "Copy secret");
  copy.addEventListener("click", async () => {
    const message = await copyText(input.value, input);
    copied.textContent = message;
    ctx.announce(message);
  });
  const f = field(`Identity secret for ${code}`, input, {
    help: "Shown only now: copy it into your website's server configuration. Your server signs each signed-in visitor's id with it, hash = hex(HMAC-SHA256(secret, id)), and the page calls Interact.identify({id, name, email, hash}). Never put it in the page.",
  });
  return h("div", { class: "snippet-box" }, f.field, h("div", { class: "actions" }, copy, copied));
}

/** Makes (or replaces) a code's identity secret and shows it once. */
async function identitySecret(ctx, code, slot) {
  if (!(await ctx.confirm(`Make a new identity secret for ${code}? An earlier secret stops working at once: visitors your website signed with it chat as guests until it uses the new one.`, "Make secret"))) return;
  try {
    const answer = await post(`/admin/v1/embed-codes/${seg(code)}/identity-secret`);
    replace(slot, secretBox(ctx, code, answer.secret));
    ctx.announce("The identity secret is shown below the code, this once.");
  } catch (e) {
    replace(slot, h("span", { class: "form-error", role: "alert" }, describe(e)));
  }
}

/** Removes a code's identity secret: identified visitors are refused from then on. */
async function noIdentity(ctx, code, slot) {
  if (!(await ctx.confirm(`Turn identity verification off for ${code}? Visitors your website identifies chat as guests and no longer see their earlier conversations.`, "Turn off"))) return;
  try {
    await del(`/admin/v1/embed-codes/${seg(code)}/identity-secret`);
    slot.replaceChildren();
    ctx.announce(`Identity verification is off for ${code}.`);
  } catch (e) {
    replace(slot, h("span", { class: "form-error", role: "alert" }, describe(e)));
  }
}

/** Asks for a signed Preview link and opens it in a new tab; returns the link. */
async function preview(ctx, code, slot) {
  try {
    const link = await post(`/admin/v1/embed-codes/${seg(code)}/preview-link`);
    const a = h("a", { href: link.url, target: "_blank", rel: "noopener noreferrer", class: "preview-link", "data-preview": code }, "Open the Preview");
    replace(slot, a, h("span", { class: "muted" }, ` (link valid until ${when(link.expires_at)})`));
    window.open(link.url, "_blank", "noopener,noreferrer");
    ctx.announce("The Preview opens in a new tab; its link is also shown below the code.");
  } catch (e) {
    replace(slot, h("span", { class: "form-error", role: "alert" }, describe(e)));
  }
}

function codesTable(ctx, codes, reload) {
  const admin = ctx.isTenantAdmin;
  const rows = codes
    .slice()
    .sort((a, b) => Number(b.created_at) - Number(a.created_at))
    .map((c) => {
      const code = String(c.code);
      const slot = h("div", { class: "row-extra" });
      const actions = h("div", { class: "row-actions" });
      if (!c.revoked_at) {
        const snippetButton = h("button", { class: "btn btn-small", type: "button", "aria-expanded": "false" }, "Snippet");
        snippetButton.addEventListener("click", async () => {
          if (snippetButton.getAttribute("aria-expanded") === "true") {
            slot.replaceChildren();
            snippetButton.setAttribute("aria-expanded", "false");
            return;
          }
          try {
            const text = await get(`/admin/v1/embed-codes/${seg(code)}/snippet`, null, { as: "text" });
            replace(slot, snippetBox(ctx, code, text.trim()));
            snippetButton.setAttribute("aria-expanded", "true");
          } catch (e) {
            replace(slot, h("span", { class: "form-error", role: "alert" }, describe(e)));
          }
        });
        const previewButton = h("button", { class: "btn btn-small", type: "button" }, "Preview");
        previewButton.addEventListener("click", () => preview(ctx, code, slot));
        const revoke = h("button", { class: "btn btn-small btn-danger", type: "button" }, "Revoke");
        revoke.addEventListener("click", async () => {
          if (!(await ctx.confirm(`Revoke ${code}? Websites using it stop showing the widget at once. This cannot be undone.`, "Revoke code"))) return;
          try {
            await post(`/admin/v1/embed-codes/${seg(code)}/revoke`);
            ctx.announce(`Embed code ${code} revoked.`);
            reload();
          } catch (e) {
            ctx.announce(describe(e), "error");
          }
        });
        const secretButton = h("button", { class: "btn btn-small", type: "button", "data-identity": code }, "Identity secret");
        secretButton.addEventListener("click", () => identitySecret(ctx, code, slot));
        const offButton = h("button", { class: "btn btn-small", type: "button" }, "No identity");
        offButton.addEventListener("click", () => noIdentity(ctx, code, slot));
        actions.append(snippetButton, previewButton);
        if (admin) actions.append(secretButton, offButton, revoke);
      }
      return [
        h("div", {}, h("code", {}, code), slot),
        targetText(c.target),
        c.template,
        when(c.created_at),
        c.revoked_at ? h("span", { class: "badge badge-off" }, `Revoked ${when(c.revoked_at)}`) : h("span", { class: "badge badge-on" }, "Active"),
        actions,
      ];
    });

  return table("Embed codes", ["Code", "Target", "Domain Template", "Created", "State", "Actions"], rows, { empty: "No embed codes yet." });
}

export async function render(ctx) {
  const admin = ctx.isTenantAdmin;
  const [codes, templates, services, users] = await Promise.all([
    get("/admin/v1/embed-codes"),
    admin ? get("/admin/v1/templates").catch(() => []) : [],
    admin ? get("/admin/v1/services").catch(() => null) : null,
    admin ? get("/admin/v1/users").catch(() => null) : null,
  ]);
  if (!ctx.current()) return;

  const list = h("div", { class: "list" });
  const reload = async () => {
    try {
      const fresh = await get("/admin/v1/embed-codes");
      if (ctx.current()) replace(list, codesTable(ctx, fresh, reload));
    } catch (e) {
      replace(list, ctx.errorBox(e));
    }
  };
  replace(list, codesTable(ctx, codes, reload));

  // The form: a target from the services and users the API lists (or typed), a template.
  let targetControl;
  const targets = [];
  // Only what may be embedded: services with the Interact licence, users with Interact on.
  for (const s of services ?? []) {
    if ((s.licences ?? []).includes("interact")) targets.push([`service:${s.id}`, `Service: ${s.display_name} (${s.id})`]);
  }
  for (const u of users ?? []) {
    if (u.interact) targets.push([`user:${u.id}`, `User: ${u.display_name} (${u.id})`]);
  }
  if (targets.length > 0) {
    targetControl = h("select", { name: "target" }, targets.map(([v, l]) => h("option", { value: v }, l)));
  } else {
    targetControl = h("input", { type: "text", name: "target", placeholder: "service:support", autocomplete: "off", spellcheck: "false", class: "mono" });
  }
  const targetField = field("Target", targetControl, {
    help:
      targets.length > 0
        ? "The service or user the widget contacts: services with the Interact licence, users with Interact on."
        : "service:<id> or user:<id>.",
  });
  const templateSelect = h(
    "select",
    { name: "template" },
    templates.map((t) => h("option", { value: t.name }, `${t.name} (${t.origins.length} origin${t.origins.length === 1 ? "" : "s"})`)),
  );
  const templateField = field("Domain Template", templateSelect, { help: "Decides which websites may use the code." });
  const problem = formProblem();
  const created = h("div", { class: "created" });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "new-code-heading" },
    h("h2", { id: "new-code-heading" }, "New embed code"),
    problem.node,
    h("div", { class: "row" }, targetField.field, templateField.field),
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Create embed code")),
    created,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    setFieldError(targetField, "");
    setFieldError(templateField, "");
    const target = parseTarget(targetControl.value);
    if (!target) {
      setFieldError(targetField, "Choose a target: service:<id> or user:<id>.");
      return;
    }
    if (!templateSelect.value) {
      setFieldError(templateField, "Create a Domain Template first.");
      return;
    }
    try {
      const answer = await post("/admin/v1/embed-codes", { target, template: templateSelect.value });
      const code = String(answer.code);
      replace(
        created,
        h("h3", {}, "Created: ", h("code", { class: "new-code" }, code)),
        snippetBox(ctx, code, answer.snippet),
      );
      ctx.announce(`Embed code ${code} created for ${targetText(answer.target)}.`);
      reload();
      created.querySelector("textarea").focus();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) {
        if (/template/i.test(e.message)) setFieldError(templateField, e.message);
        else setFieldError(targetField, e.message);
      } else {
        problem.show(describe(e));
      }
    }
  });

  replace(
    ctx.main,
    h("h1", {}, title),
    h(
      "p",
      { class: "lead" },
      admin
        ? "An embed code puts the widget of a service or a user on the websites its Domain Template allows."
        : "The embed codes of your services: their snippets and their Preview. A Tenant Admin creates and revokes them.",
    ),
    admin ? form : null,
    h("h2", {}, "All embed codes"),
    list,
  );
}
