// Users (agents): licences, Interact on or off, direct modalities, the Tenant Admin role
// and a new password.

import { ApiError, describe, get, put, seg } from "../api.js";
import { checkboxes, field, formProblem, h, replace, setFieldError, table } from "../dom.js";
import { dangerZone } from "./danger.js";
import { MODALITIES, fieldOf, list } from "./services.js";

export const title = "Users";

const LICENCES = [
  ["instant_messaging", "Instant messaging: takes the chats of their services"],
  ["interact_user", "Interact on: reachable directly from websites (an embed code of their own)"],
];

export async function render(ctx, [id]) {
  if (id !== undefined) return renderOne(ctx, id);
  const users = await get("/admin/v1/users");
  if (!ctx.current()) return;
  const rows = users.map((u) => [
    h("a", { href: `#/users/${seg(u.id)}` }, u.display_name || u.id),
    h("code", {}, u.id),
    (u.licences ?? []).join(", ") || "none",
    u.interact ? "on" : "off",
    (u.modalities ?? []).join(", ") || "—",
    u.tenant_admin ? "Tenant Admin" : "—",
  ]);
  const idInput = h("input", { type: "text", name: "id", autocomplete: "off", spellcheck: "false" });
  const idField = field("Id (the sign-in name)", idInput);
  const create = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "new-user-heading" },
    h("h2", { id: "new-user-heading" }, "New user"),
    idField.field,
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Open the settings")),
  );
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    const newId = idInput.value.trim();
    if (newId) ctx.navigate(`#/users/${seg(newId)}`);
    else setFieldError(idField, "Enter an id.");
  });
  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "The people who sign in: agents in the console, admins here."),
    table("Users", ["Name", "Id", "Licences", "Interact", "Direct modalities", "Role"], rows, { empty: "No users." }),
    create,
  );
}

async function renderOne(ctx, id) {
  // The API lists users (there is no GET of one): find this one there.
  const user = (await get("/admin/v1/users")).find((x) => x.id === id) ?? null;
  if (!ctx.current()) return;
  const u = user ?? { id, display_name: "", licences: [], modalities: ["chat"], languages: ["en"], privacy: null, tenant_admin: false };
  const displayName = h("input", { type: "text", name: "display_name", value: u.display_name ?? "", autocomplete: "off" });
  const fields = { display_name: field("Display name", displayName, { help: "What visitors and colleagues read." }) };
  const licences = checkboxes("Licences", LICENCES, u.licences, "licences");
  const modalities = checkboxes("Direct modalities (when contacted through their own embed code)", MODALITIES, u.modalities, "modalities");
  const admin = h("input", { type: "checkbox", id: "user-admin", checked: Boolean(u.tenant_admin) });
  const languages = h("input", { type: "text", name: "languages", value: (u.languages ?? ["en"]).join(", "), autocomplete: "off", spellcheck: "false" });
  fields.languages = field("Languages, preferred first", languages, { help: "BCP 47 tags, e.g. en, de." });
  const privacyUrl = h("input", { type: "text", inputmode: "url", name: "privacy_url", value: u.privacy?.url ?? "", autocomplete: "off", spellcheck: "false" });
  const privacyText = h("textarea", { name: "privacy_text", rows: "3" });
  privacyText.value = u.privacy?.text ?? "";
  const privacyVersion = h("input", { type: "text", name: "privacy_version", value: u.privacy?.version ?? "", autocomplete: "off" });
  fields.privacy = field("Privacy policy URL", privacyUrl);
  const privacyTextField = field("Consent text for direct contacts", privacyText);
  const privacyVersionField = field("Privacy version", privacyVersion);
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password" });
  fields.password = field(user ? "New password" : "Password", password, {
    help: user ? "Leave empty to keep the current one; 8 to 256 characters." : "8 to 256 characters; a new user needs one.",
  });
  const problem = formProblem();
  const save = h("button", { class: "btn btn-primary", type: "submit" }, user ? "Save user" : "Create user");
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "user-form-heading" },
    h("h2", { id: "user-form-heading" }, "Settings"),
    problem.node,
    fields.display_name.field,
    h("div", { class: "row" }, licences.node, modalities.node),
    h("div", { class: "check" }, admin, h("label", { for: "user-admin" }, "Tenant Admin (manages everything here)")),
    fields.languages.field,
    h(
      "fieldset",
      { class: "group" },
      h("legend", {}, "Privacy policy of direct contacts (leave empty without Interact)"),
      fields.privacy.field,
      privacyTextField.field,
      privacyVersionField.field,
    ),
    fields.password.field,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    for (const f of Object.values(fields)) setFieldError(f, "");
    const privacy = { url: privacyUrl.value.trim(), text: privacyText.value.trim(), version: privacyVersion.value.trim() };
    const body = {
      display_name: displayName.value.trim(),
      licences: licences.values(),
      modalities: modalities.values(),
      privacy: privacy.url || privacy.text || privacy.version ? privacy : null,
      languages: list(languages.value),
      tenant_admin: admin.checked,
    };
    if (password.value) body.password = password.value;
    save.disabled = true;
    try {
      await put(`/admin/v1/users/${seg(id)}`, body);
      password.value = "";
      ctx.announce(`User ${body.display_name || id} saved.`);
      save.textContent = "Save user";
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
  const danger = user
    ? dangerZone(ctx, {
        button: "Delete user",
        question: `Delete the user ${id}? They are signed out everywhere at once; remove them from services first.`,
        confirmLabel: "Delete user",
        path: `/admin/v1/users/${seg(id)}`,
        done: `User ${id} deleted.`,
        back: "#/users",
      })
    : null;

  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/users" }, "Users")),
    h("h1", {}, `User: ${u.display_name || id}`),
    user ? null : h("p", { class: "alert alert-info" }, "A new user: nothing is stored until you create it."),
    form,
    danger,
  );
}
