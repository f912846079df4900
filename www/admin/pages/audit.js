// The audit log: every admin change, newest first, a page at a time.

import { get } from "../api.js";
import { h, replace, table, when } from "../dom.js";

export const title = "Audit log";

const PAGE = 50;

/** JSON text pretty-printed (as text), or a dash. */
function pretty(json) {
  if (json === null || json === undefined) return h("span", { class: "muted" }, "—");
  let text = String(json);
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    // Not JSON: shown as it is.
  }
  return h("details", {}, h("summary", {}, text.length > 60 ? `${text.replace(/\s+/g, " ").slice(0, 60)}…` : text.replace(/\s+/g, " ")), h("pre", { class: "json" }, text));
}

export async function render(ctx) {
  // `pages` holds the `before` cursor of every page seen, so "Newer" can go back.
  const cursors = [null];
  const out = h("div", {});
  const older = h("button", { class: "btn", type: "button" }, "Older entries");
  const newer = h("button", { class: "btn", type: "button" }, "Newer entries");
  const where = h("p", { class: "muted", role: "status" });

  async function show(index) {
    const entries = await get("/admin/v1/audit", { before: cursors[index] ?? "", limit: PAGE });
    if (!ctx.current()) return;
    cursors.length = index + 1;
    if (entries.length === PAGE) cursors.push(entries[entries.length - 1].id);
    older.disabled = cursors.length <= index + 1;
    newer.disabled = index === 0;
    where.textContent = entries.length ? `Page ${index + 1}: entries ${entries[0].id} to ${entries[entries.length - 1].id}.` : "No entries.";
    replace(
      out,
      table(
        "Audit log entries, newest first",
        ["#", "When", "Who", "Action", "Target", "Before", "After"],
        entries.map((e) => [String(e.id), when(e.at), e.actor, h("code", {}, e.action), e.target, pretty(e.before), pretty(e.after)]),
        { empty: "No admin changes yet.", className: "audit" },
      ),
    );
    shown = index;
  }
  let shown = 0;
  older.addEventListener("click", () => show(shown + 1).catch((e) => replace(out, ctx.errorBox(e))));
  newer.addEventListener("click", () => show(Math.max(0, shown - 1)).catch((e) => replace(out, ctx.errorBox(e))));

  await show(0);
  if (!ctx.current()) return;
  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "Every change made through the administration, the admin API or the command line: who, when, what, and the item before and after."),
    out,
    h("div", { class: "actions pager" }, newer, older, where),
  );
}
