// Workflows: the list, an editor of one workflow's TOML with the server's validation
// error shown at the step and line it names, and a dry run on a virtual clock.

import { ApiError, describe, get, post, put, seg } from "../api.js";
import { field, formProblem, h, replace, table, when } from "../dom.js";

export const title = "Workflows";

/** The `[[step]]` tables of a definition: number (from 1), line (from 1), label, activity. */
export function outline(text) {
  const steps = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (/^\s*\[\[\s*(workflow\.)?step\s*\]\]/.test(line)) {
      steps.push({ number: steps.length + 1, line: i + 1, end: lines.length, label: null, activity: null });
      if (steps.length > 1) steps[steps.length - 2].end = i;
      return;
    }
    const current = steps[steps.length - 1];
    if (!current) return;
    const label = /^\s*label\s*=\s*"([^"]*)"/.exec(line);
    if (label) current.label = label[1];
    const activity = /^\s*activity\s*=\s*"([^"]*)"/.exec(line);
    if (activity) current.activity = activity[1];
  });
  return steps;
}

/**
 * Where a validation message points: `{line, step}` (either may be null). The server
 * names `step N` and/or `line N` (TOML errors: "at line N, column M").
 */
export function locate(message, text) {
  const steps = outline(text);
  const lineMatch = /\bline (\d+)/.exec(message);
  const stepMatch = /\bstep (\d+)/.exec(message);
  let line = lineMatch ? Number(lineMatch[1]) : null;
  let step = stepMatch ? Number(stepMatch[1]) : null;
  if (step !== null && line === null) line = steps.find((s) => s.number === step)?.line ?? null;
  if (step === null && line !== null) step = steps.find((s) => line >= s.line && line <= s.end)?.number ?? null;
  return { line, step };
}

const TEMPLATE = (name) => `name = ${JSON.stringify(name)}

[[step]]
label = "greeting"
activity = "message"
text = "Hello {{visitor_name}}, thank you for your message."

[[step]]
label = "queue"
activity = "queue_task"
`;

export async function render(ctx, [name]) {
  if (name !== undefined) return renderOne(ctx, name);
  const [list, services] = await Promise.all([get("/admin/v1/workflows"), get("/admin/v1/services").catch(() => null)]);
  if (!ctx.current()) return;
  const usedBy = (n) =>
    (services ?? [])
      .filter((s) => s.workflow === n)
      .map((s) => s.display_name || s.id)
      .join(", ") || (services ? "no service" : "—");
  const rows = list.map((w) => [
    h("a", { href: `#/workflows/${seg(w.name)}` }, w.name),
    h("code", {}, String(w.fingerprint).slice(0, 12)),
    when(w.created_at),
    usedBy(w.name),
  ]);
  const nameInput = h("input", { type: "text", name: "name", required: true, autocomplete: "off", spellcheck: "false" });
  const nameField = field("Name", nameInput, { help: "Opens the editor with a two-step start; nothing is saved until you save." });
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "new-workflow-heading" },
    h("h2", { id: "new-workflow-heading" }, "New workflow"),
    nameField.field,
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Open the editor")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const n = nameInput.value.trim();
    if (n) ctx.navigate(`#/workflows/${seg(n)}`);
  });
  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "Instant Messaging workflows decide what a chat goes through before an agent takes it. A saved version is used by new chats at once; running chats keep the version they started with."),
    table("Workflows", ["Name", "Version", "Saved", "Used by"], rows, { empty: "No workflows yet." }),
    ctx.isTenantAdmin ? form : null,
  );
}

async function renderOne(ctx, name) {
  let current = null;
  try {
    current = await get(`/admin/v1/workflows/${seg(name)}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
  }
  if (!ctx.current()) return;

  // --- The editor: line numbers beside a textarea, the error at its line and step.
  const area = h("textarea", { class: "mono code", wrap: "off", spellcheck: "false", rows: "24", autocapitalize: "off" });
  area.value = current ? current.definition : TEMPLATE(name);
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const errorBox = h("div", { class: "code-error", id: "definition-error", role: "alert", hidden: true });
  const steps = h("ol", { class: "steps" });
  area.id = "definition";
  area.setAttribute("aria-describedby", "definition-help definition-error");
  let errorAt = { line: null, step: null, message: "" };

  function goTo(line) {
    const lines = area.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] ?? "").length);
    const lineHeight = area.scrollHeight / Math.max(lines.length, 1);
    area.scrollTop = Math.max(0, (line - 4) * lineHeight);
  }

  function paint() {
    const count = area.value.split("\n").length;
    gutter.replaceChildren(
      ...Array.from({ length: count }, (_, i) =>
        h("span", { class: i + 1 === errorAt.line ? "gutter-line gutter-error" : "gutter-line" }, String(i + 1)),
      ),
    );
    gutter.scrollTop = area.scrollTop;
    steps.replaceChildren(
      ...outline(area.value).map((s) => {
        const bad = s.number === errorAt.step;
        const button = h(
          "button",
          { type: "button", class: "link-button" },
          `Step ${s.number}`,
          s.label ? ` “${s.label}”` : "",
          `: ${s.activity ?? "no activity"}`,
        );
        button.addEventListener("click", () => goTo(s.line));
        return h(
          "li",
          { class: bad ? "step step-error" : "step", "data-step": String(s.number) },
          button,
          bad ? h("p", { class: "step-message" }, errorAt.message) : null,
        );
      }),
    );
  }

  function showError(message) {
    errorAt = { ...locate(message, area.value), message };
    const where = [];
    if (errorAt.step !== null) where.push(`step ${errorAt.step}`);
    if (errorAt.line !== null) where.push(`line ${errorAt.line}`);
    const goButton = errorAt.line !== null ? h("button", { type: "button", class: "btn btn-small" }, `Go to line ${errorAt.line}`) : null;
    goButton?.addEventListener("click", () => goTo(errorAt.line));
    const lineText = errorAt.line !== null ? area.value.split("\n")[errorAt.line - 1] : null;
    replace(
      errorBox,
      h("p", { class: "code-error-title" }, where.length ? `Not saved: a problem at ${where.join(", ")}` : "Not saved"),
      lineText !== null && lineText !== undefined ? h("p", { class: "mono code-error-line" }, `${errorAt.line} | ${lineText}`) : null,
      h("pre", { class: "code-error-message" }, message),
      goButton,
    );
    errorBox.hidden = false;
    area.setAttribute("aria-invalid", "true");
    paint();
  }

  function clearError() {
    errorAt = { line: null, step: null, message: "" };
    errorBox.hidden = true;
    errorBox.replaceChildren();
    area.removeAttribute("aria-invalid");
    paint();
  }

  area.addEventListener("input", paint);
  area.addEventListener("scroll", () => {
    gutter.scrollTop = area.scrollTop;
  });

  const problem = formProblem();
  const save = h("button", { class: "btn btn-primary", type: "submit" }, "Save workflow");
  const version = h("p", { class: "muted version" }, current ? `Current version ${String(current.fingerprint).slice(0, 12)}, saved ${when(current.created_at)}.` : "Not saved yet.");
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "editor-heading" },
    h("h2", { id: "editor-heading" }, "Definition"),
    problem.node,
    h("label", { for: "definition" }, "Definition (TOML: name, then one [[step]] table per activity)"),
    h("p", { class: "help", id: "definition-help" }, "Only the activities supported for Instant Messaging. The server checks everything when you save and names the step and line of a problem."),
    h("div", { class: "editor" }, gutter, area),
    errorBox,
    h("div", { class: "actions" }, save, version),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    save.disabled = true;
    try {
      const saved = await put(`/admin/v1/workflows/${seg(name)}`, { definition: area.value });
      clearError();
      version.textContent = `Current version ${String(saved.fingerprint).slice(0, 12)}, saved ${when(saved.created_at)}.`;
      ctx.announce(`Workflow ${name} saved: new chats run this version now.`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) showError(e.message);
      else problem.show(describe(e));
    } finally {
      save.disabled = false;
    }
  });

  // --- The dry run.
  const at = h("input", { type: "datetime-local", name: "at", required: true });
  at.value = localInput(nextWeekday(6, 10));
  const atField = field("A chat arrives at", at, { help: "Your browser's time; opening hours use their own time zone." });
  const saturday = h("button", { type: "button", class: "btn btn-small" }, "Next Saturday 10:00");
  saturday.addEventListener("click", () => {
    at.value = localInput(nextWeekday(6, 10));
  });
  const weekday = h("button", { type: "button", class: "btn btn-small" }, "Next Monday 10:00");
  weekday.addEventListener("click", () => {
    at.value = localInput(nextWeekday(1, 10));
  });
  const visitor = h("input", { type: "text", name: "visitor_name", value: "Visitor", autocomplete: "off" });
  const first = h("input", { type: "text", name: "first_message", autocomplete: "off" });
  const answers = h("textarea", { name: "answers", rows: "2" });
  const available = h("input", { type: "number", name: "agents_available", min: "0", max: "1000", value: "0" });
  const busy = h("input", { type: "number", name: "agents_busy", min: "0", max: "1000", value: "0" });
  const forSecs = h("input", { type: "number", name: "for_secs", min: "1", max: "86400", value: "600" });
  const unsaved = h("input", { type: "checkbox", id: "dry-unsaved", checked: true });
  const result = h("div", { class: "dry-result", "aria-live": "polite" });
  const dryProblem = formProblem();
  const dryForm = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "dry-heading" },
    h("h2", { id: "dry-heading" }, "Dry run"),
    h("p", { class: "help" }, "Follows a chat through the workflow on a virtual clock: nothing is sent, queued or requested, and a Web Request counts as failed."),
    dryProblem.node,
    h("div", { class: "row" }, atField.field, h("div", { class: "quick" }, saturday, weekday)),
    h(
      "div",
      { class: "row" },
      field("Visitor's name", visitor).field,
      field("First message", first).field,
    ),
    field("Answers to the workflow's questions, one per line", answers).field,
    h(
      "div",
      { class: "row" },
      field("Agents available", available).field,
      field("Agents busy", busy).field,
      field("Follow for (seconds)", forSecs).field,
    ),
    h("div", { class: "check" }, unsaved, h("label", { for: "dry-unsaved" }, "Run the text in the editor (unsaved changes included)")),
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Run")),
    result,
  );
  dryForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    dryProblem.show("");
    const arrives = new Date(at.value);
    if (Number.isNaN(arrives.getTime())) {
      dryProblem.show("Pick when the chat arrives.");
      return;
    }
    const body = {
      at: arrives.getTime(),
      visitor_name: visitor.value.trim() || undefined,
      first_message: first.value.trim() || undefined,
      answers: answers.value.split("\n").map((a) => a.trim()).filter(Boolean),
      agents_available: Number(available.value) || 0,
      agents_busy: Number(busy.value) || 0,
      for_secs: Number(forSecs.value) || undefined,
    };
    if (unsaved.checked) body.definition = area.value;
    try {
      const run = await post(`/admin/v1/workflows/${seg(name)}/dry-run`, body);
      replace(result, dryRunView(arrives, run));
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && unsaved.checked) {
        showError(e.message);
        dryProblem.show("The definition in the editor has a problem; see above.");
      } else {
        dryProblem.show(describe(e));
      }
      result.replaceChildren();
    }
  });

  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/workflows" }, "Workflows")),
    h("h1", {}, `Workflow: ${name}`),
    h("div", { class: "workflow-layout" }, form, h("aside", { class: "card outline", "aria-labelledby": "steps-heading" }, h("h2", { id: "steps-heading" }, "Steps"), steps)),
    dryForm,
  );
  paint();
}

/** The result of a dry run: the sentence, the outcome and the events. */
function dryRunView(arrives, run) {
  const day = arrives.toLocaleString(undefined, { weekday: "long", hour: "2-digit", minute: "2-digit" });
  const rows = (run.events ?? []).map((e) => [
    `+${Math.round((Number(e.at) - arrives.getTime()) / 1000)} s`,
    e.what,
    e.detail,
  ]);
  return h(
    "div",
    {},
    h("p", { class: "summary" }, `A chat arriving ${day} goes: `, h("strong", { class: "path" }, run.summary || "(no step)")),
    h(
      "p",
      {},
      run.outcome ? `It ends with the outcome ${run.outcome}.` : `It is still running after the time followed: ${run.waiting ?? "waiting"}.`,
    ),
    table({ text: "What happens", visible: true }, ["When", "What", "Detail"], rows, { empty: "Nothing happens." }),
  );
}

/** The next `day` (0 Sunday … 6 Saturday) at `hour`:00 local time, after now. */
function nextWeekday(day, hour) {
  const d = new Date();
  d.setHours(hour, 0, 0, 0);
  let add = (day - d.getDay() + 7) % 7;
  if (add === 0 && d.getTime() <= Date.now()) add = 7;
  d.setDate(d.getDate() + add);
  return d;
}

/** A Date as a datetime-local input's value. */
function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
