// Domain Templates: which websites (origins) may use the embed codes bound to each.

import { ApiError, describe, get, put, seg } from "../api.js";
import { field, formProblem, h, replace, setFieldError, table } from "../dom.js";
import { dangerZone } from "./danger.js";

export const title = "Domain Templates";

/** The origins typed into a textarea, one per line, blanks dropped. */
export function parseOrigins(text) {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** The server's 400 for an origin, with the line it names if it quotes one. */
function originError(error, origins) {
  const text = error instanceof ApiError ? error.message : String(error);
  const quoted = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  const index = origins.findIndex((o) => quoted.includes(o));
  return index >= 0 ? `Line ${index + 1}: ${text}` : text;
}

export async function render(ctx, [name]) {
  if (name !== undefined) return renderOne(ctx, name);
  const [list, codes] = await Promise.all([
    get("/admin/v1/templates"),
    get("/admin/v1/embed-codes").catch(() => []),
  ]);
  if (!ctx.current()) return;
  const inUse = (t) => codes.filter((c) => c.template === t && !c.revoked_at).length;
  const rows = list.map((t) => [
    h("a", { href: `#/templates/${seg(t.name)}` }, t.name),
    t.origins.length === 0 ? h("span", { class: "muted" }, "none: allows no website") : h("ul", { class: "plain" }, t.origins.map((o) => h("li", { class: "mono" }, o))),
    String(inUse(t.name)),
  ]);

  const nameInput = h("input", { type: "text", name: "name", required: true, autocomplete: "off", spellcheck: "false", maxlength: "64" });
  const nameField = field("Name", nameInput, { help: "1 to 64 letters, digits, '-', '_' or '.'." });
  const originsInput = h("textarea", { name: "origins", rows: "4", spellcheck: "false", class: "mono" });
  const originsField = field("Allowed origins, one per line", originsInput, {
    help: "scheme://host[:port], e.g. https://www.example.com, or https://*.example.com for any subdomain.",
  });
  const problem = formProblem();
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "new-template-heading" },
    h("h2", { id: "new-template-heading" }, "New Domain Template"),
    problem.node,
    nameField.field,
    originsField.field,
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Create template")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(nameField, "");
    setFieldError(originsField, "");
    problem.show("");
    const newName = nameInput.value.trim();
    if (!newName) {
      setFieldError(nameField, "Enter a name.");
      nameInput.focus();
      return;
    }
    const origins = parseOrigins(originsInput.value);
    try {
      await put(`/admin/v1/templates/${seg(newName)}`, { origins });
      ctx.announce(`Domain Template ${newName} created.`);
      ctx.navigate(`#/templates/${seg(newName)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) {
        problem.show(describe(e));
        return;
      }
      if (/name/i.test(e.message) && !/origin/i.test(e.message)) {
        setFieldError(nameField, e.message);
        nameInput.focus();
      } else {
        setFieldError(originsField, originError(e, origins));
        originsInput.focus();
      }
    }
  });

  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "A Domain Template lists the websites that may show the widget of the embed codes bound to it. Everything else is refused."),
    table("Domain Templates", ["Name", "Allowed origins", "Embed codes in use"], rows, { empty: "No Domain Templates yet." }),
    form,
  );
}

async function renderOne(ctx, name) {
  const template = await get(`/admin/v1/templates/${seg(name)}`);
  if (!ctx.current()) return;

  const originsInput = h("textarea", { name: "origins", rows: String(Math.max(4, template.origins.length + 1)), spellcheck: "false", class: "mono" });
  originsInput.value = template.origins.join("\n");
  const originsField = field("Allowed origins, one per line", originsInput, {
    help: "scheme://host[:port], or scheme://*.example.com for any subdomain. A template without origins allows no website.",
  });
  const save = h("button", { class: "btn btn-primary", type: "submit" }, "Save origins");
  const problem = formProblem();
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "origins-heading" },
    h("h2", { id: "origins-heading" }, "Origins"),
    problem.node,
    originsField.field,
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(originsField, "");
    problem.show("");
    const origins = parseOrigins(originsInput.value);
    save.disabled = true;
    try {
      const saved = await put(`/admin/v1/templates/${seg(name)}`, { origins });
      originsInput.value = saved.origins.join("\n");
      ctx.announce(`Saved: ${saved.origins.length} origin${saved.origins.length === 1 ? "" : "s"} in ${name}. Every server applies it now.`);
      check();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) {
        problem.show(describe(e));
        return;
      }
      setFieldError(originsField, originError(e, origins));
      originsInput.focus();
    } finally {
      save.disabled = false;
    }
  });

  // The live check: does this origin pass the saved template, and why.
  const checkInput = h("input", { type: "text", inputmode: "url", name: "origin", autocomplete: "off", spellcheck: "false", placeholder: "https://www.example.com", class: "mono" });
  const checkField = field("Origin to check", checkInput, { help: "Checked against the saved origins as you type." });
  const verdict = h("p", { class: "verdict", role: "status", "aria-live": "polite" });
  let timer = 0;
  let asked = 0;
  async function check() {
    const origin = checkInput.value.trim();
    const mine = ++asked;
    if (!origin) {
      verdict.textContent = "";
      verdict.className = "verdict";
      return;
    }
    try {
      const answer = await get(`/admin/v1/templates/${seg(name)}/check`, { origin });
      if (mine !== asked) return;
      verdict.className = `verdict ${answer.allowed ? "verdict-ok" : "verdict-no"}`;
      replace(
        verdict,
        h("strong", {}, answer.allowed ? "Allowed: " : "Refused: "),
        `${answer.origin ?? origin} — ${answer.reason ?? ""}`,
      );
    } catch (e) {
      if (mine !== asked) return;
      verdict.className = "verdict verdict-no";
      verdict.textContent = describe(e);
    }
  }
  checkInput.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  });
  const checkForm = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "check-heading" },
    h("h2", { id: "check-heading" }, "Does an origin pass?"),
    checkField.field,
    verdict,
  );
  checkForm.addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });


  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/templates" }, "Domain Templates")),
    h("h1", {}, `Domain Template: ${name}`),
    form,
    checkForm,
    dangerZone(ctx, {
      button: "Delete template",
      question: `Delete the Domain Template ${name}? Embed codes bound to it must be revoked first.`,
      confirmLabel: "Delete template",
      path: `/admin/v1/templates/${seg(name)}`,
      done: `Domain Template ${name} deleted.`,
      back: "#/templates",
    }),
  );
}
