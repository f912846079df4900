// Opening hours: the weekly hours and holidays that workflows' Check Opening Hours steps
// read, each in its own time zone.

import { ApiError, describe, get, put, seg } from "../api.js";
import { field, formProblem, h, replace, setFieldError, table } from "../dom.js";
import { dangerZone } from "./danger.js";

export const title = "Opening hours";

export const DAYS = [
  ["mon", "Monday"],
  ["tue", "Tuesday"],
  ["wed", "Wednesday"],
  ["thu", "Thursday"],
  ["fri", "Friday"],
  ["sat", "Saturday"],
  ["sun", "Sunday"],
];

/** "08:00-12:00, 13:00-17:30" as a list of intervals. */
export function intervals(text) {
  return text
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Holidays as lines: `2025-12-24 09:00-12:00 # Christmas Eve` (no hours: closed). */
export function holidaysText(holidays) {
  return (holidays ?? [])
    .map((d) => [d.date, ...(d.hours ?? [])].join(" ") + (d.name ? ` # ${d.name}` : ""))
    .join("\n");
}

/** The lines of [`holidaysText`] back as `[{date, hours, name}]`. */
export function parseHolidays(text) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const hash = line.indexOf("#");
      const name = hash >= 0 ? line.slice(hash + 1).trim() : "";
      const [date, ...hours] = intervals(hash >= 0 ? line.slice(0, hash) : line);
      const day = { date: date ?? "", hours };
      if (name) day.name = name;
      return day;
    });
}

function summary(weekly) {
  const open = DAYS.filter(([key]) => (weekly?.[key] ?? []).length > 0);
  if (open.length === 0) return "closed every day";
  return open.map(([key, name]) => `${name.slice(0, 3)} ${weekly[key].join(", ")}`).join("; ");
}

export async function render(ctx, [name]) {
  if (name !== undefined) return renderOne(ctx, name);
  const all = await get("/admin/v1/opening-hours");
  if (!ctx.current()) return;
  const rows = all.map((x) => [
    h("a", { href: `#/opening-hours/${seg(x.name)}` }, x.name),
    x.time_zone,
    summary(x.weekly),
    String((x.holiday ?? []).length),
  ]);
  let create = null;
  if (ctx.isTenantAdmin) {
    const nameInput = h("input", { type: "text", name: "name", autocomplete: "off", spellcheck: "false" });
    const nameField = field("Name", nameInput, { help: "Workflows name it in their check_opening_hours steps." });
    create = h(
      "form",
      { class: "card form", novalidate: true, "aria-labelledby": "new-hours-heading" },
      h("h2", { id: "new-hours-heading" }, "New opening hours"),
      nameField.field,
      h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Open the editor")),
    );
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      const n = nameInput.value.trim();
      if (n) ctx.navigate(`#/opening-hours/${seg(n)}`);
      else setFieldError(nameField, "Enter a name.");
    });
  }
  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "When a workflow's opening-hours check says open or closed. Hours are local wall-clock times in each one's time zone."),
    table("Opening hours", ["Name", "Time zone", "Weekly", "Holidays"], rows, { empty: "No opening hours yet." }),
    create,
  );
}

async function renderOne(ctx, name) {
  const all = await get("/admin/v1/opening-hours");
  if (!ctx.current()) return;
  const found = all.find((x) => x.name === name) ?? null;
  const x = found ?? { name, time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", weekly: {}, holiday: [] };
  const readOnly = !ctx.isTenantAdmin;

  const zone = h("input", { type: "text", name: "time_zone", value: x.time_zone, autocomplete: "off", spellcheck: "false", list: "time-zones", readonly: readOnly });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zoneList = h("datalist", { id: "time-zones" }, zones.map((z) => h("option", { value: z })));
  const zoneField = field("Time zone", zone, { help: "An IANA name, e.g. Europe/Berlin." });
  const days = DAYS.map(([key, label]) => {
    const input = h("input", { type: "text", name: key, value: (x.weekly?.[key] ?? []).join(", "), autocomplete: "off", spellcheck: "false", placeholder: "closed", readonly: readOnly });
    return { key, input, f: field(label, input) };
  });
  const holidays = h("textarea", { name: "holidays", rows: "4", spellcheck: "false", class: "mono", readonly: readOnly });
  holidays.value = holidaysText(x.holiday);
  const holidaysField = field("Holidays, one per line", holidays, {
    help: "YYYY-MM-DD, then its hours if it opens at all, then # and a name: 2025-12-24 09:00-12:00 # Christmas Eve.",
  });
  const problem = formProblem();
  const save = h("button", { class: "btn btn-primary", type: "submit" }, found ? "Save opening hours" : "Create opening hours");
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "hours-heading" },
    h("h2", { id: "hours-heading" }, "Hours"),
    problem.node,
    zoneField.field,
    zoneList,
    h("fieldset", { class: "group" }, h("legend", {}, "Weekly hours (HH:MM-HH:MM, several separated by commas; empty: closed)"), h("div", { class: "days" }, days.map((d) => d.f.field))),
    holidaysField.field,
    readOnly ? h("p", { class: "help" }, "Only a Tenant Admin changes opening hours.") : h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (readOnly) return;
    problem.show("");
    setFieldError(zoneField, "");
    setFieldError(holidaysField, "");
    const weekly = {};
    for (const d of days) {
      setFieldError(d.f, "");
      weekly[d.key] = intervals(d.input.value);
    }
    const body = { time_zone: zone.value.trim(), weekly, holiday: parseHolidays(holidays.value) };
    save.disabled = true;
    try {
      await put(`/admin/v1/opening-hours/${seg(name)}`, body);
      ctx.announce(`Opening hours ${name} saved; workflows check against them at once.`);
      save.textContent = "Save opening hours";
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) {
        const day = days.find((d) => new RegExp(`\\b${d.key}\\b`).test(e.message));
        if (day) setFieldError(day.f, e.message);
        else if (/time.?zone/i.test(e.message)) setFieldError(zoneField, e.message);
        else if (/holiday|date/i.test(e.message)) setFieldError(holidaysField, e.message);
        else problem.show(e.message);
      } else {
        problem.show(describe(e));
      }
    } finally {
      save.disabled = false;
    }
  });

  const danger =
    found && ctx.isTenantAdmin
      ? dangerZone(ctx, {
          button: "Delete opening hours",
          question: `Delete the opening hours ${name}? Workflows that check them must be changed first.`,
          confirmLabel: "Delete",
          path: `/admin/v1/opening-hours/${seg(name)}`,
          done: `Opening hours ${name} deleted.`,
          back: "#/opening-hours",
        })
      : null;

  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/opening-hours" }, "Opening hours")),
    h("h1", {}, `Opening hours: ${name}`),
    found ? null : h("p", { class: "alert alert-info" }, "New opening hours: nothing is stored until you create them."),
    form,
    danger,
  );
}
