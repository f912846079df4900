// Reports: the session report filtered, sessions per day by outcome and the wait-time
// distribution as SVG charts, the rows, a transcript, and the CSV download; then usage
// per UTC day, target and channel (GET /admin/v1/usage) as a table, and its CSV.

import { describe, get, request, seg } from "../api.js";
import { duration, field, formProblem, h, replace, s, table, uid, when } from "../dom.js";

export const title = "Reports";

export const OUTCOMES = ["handled", "transferred", "abandoned", "cancelled", "no_agent", "failed"];

/** Series colours (each at least 3:1 against white, told apart by the legend's words too). */
const COLOURS = {
  handled: "#1f7a45",
  transferred: "#2b59c3",
  abandoned: "#b35c00",
  cancelled: "#6b5b95",
  no_agent: "#c0392b",
  failed: "#5c6878",
};

/** Wait-time buckets: upper bound in ms (exclusive) and label. */
export const WAIT_BUCKETS = [
  [10_000, "under 10 s"],
  [30_000, "10–30 s"],
  [60_000, "30–60 s"],
  [120_000, "1–2 min"],
  [300_000, "2–5 min"],
  [600_000, "5–10 min"],
  [Infinity, "10 min or more"],
];

/** A local calendar day `YYYY-MM-DD` of Unix ms. */
function day(ms) {
  const d = new Date(Number(ms));
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Rows counted per day and outcome: `[{day, counts: {outcome: n}}]`, every day in the range. */
export function perDay(rows) {
  const byDay = new Map();
  for (const r of rows) {
    if (!r.outcome) continue;
    const key = day(r.created_at);
    const counts = byDay.get(key) ?? {};
    counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
    byDay.set(key, counts);
  }
  const days = [...byDay.keys()].sort();
  if (days.length === 0) return [];
  const out = [];
  const cursor = new Date(`${days[0]}T12:00:00`);
  const last = days[days.length - 1];
  for (let i = 0; i < 400; i += 1) {
    const key = day(cursor.getTime());
    out.push({ day: key, counts: byDay.get(key) ?? {} });
    if (key >= last) break;
    cursor.setDate(cursor.getDate() + 1);
  }
  return out;
}

/** Rows with a wait counted per [`WAIT_BUCKETS`] bucket. */
export function waitHistogram(rows) {
  const counts = WAIT_BUCKETS.map(() => 0);
  for (const r of rows) {
    if (r.wait_ms === null || r.wait_ms === undefined) continue;
    const i = WAIT_BUCKETS.findIndex(([upper]) => Number(r.wait_ms) < upper);
    counts[i] += 1;
  }
  return WAIT_BUCKETS.map(([, label], i) => ({ label, count: counts[i] }));
}

/** A round scale maximum for `max` (1, 2, 5, 10, 20, ...). */
function niceMax(max) {
  if (max <= 5) return Math.max(max, 1);
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** A chart frame: an `<svg role=img>` titled and described, with a y axis of counts. */
function frame(titleText, descText, width, height, max, pad) {
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, class: "chart", preserveAspectRatio: "xMinYMin meet" },
    s("title", { id: titleId }, titleText),
    s("desc", { id: descId }, descText),
  );
  const plotH = height - pad.top - pad.bottom;
  const ticks = Math.min(4, max);
  for (let i = 0; i <= ticks; i += 1) {
    const value = Math.round((max * i) / ticks);
    const y = pad.top + plotH - (plotH * i) / ticks;
    svg.append(
      s("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }),
      s("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, String(value)),
    );
  }
  return svg;
}

/** A note across an empty plot. */
function nothing(svg, width, height, text) {
  svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis empty-note" }, text));
}

/** Sessions per day, stacked by outcome. */
export function stackedBars(days) {
  const width = 520;
  const height = 260;
  const pad = { top: 12, right: 8, bottom: 48, left: 36 };
  const totals = days.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0));
  const max = niceMax(Math.max(0, ...totals));
  const sum = totals.reduce((a, b) => a + b, 0);
  const svg = frame(
    "Sessions per day by outcome",
    `${sum} ended sessions over ${days.length} day${days.length === 1 ? "" : "s"}; the table below lists them.`,
    width,
    height,
    max,
    pad,
  );
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const labelEvery = Math.ceil(days.length / 7);
  if (sum === 0) nothing(svg, width, height - pad.bottom, "No ended sessions in this range");
  days.forEach((d, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    let y = pad.top + plotH;
    for (const outcome of OUTCOMES) {
      const n = d.counts[outcome] ?? 0;
      if (!n) continue;
      const barH = (plotH * n) / max;
      y -= barH;
      svg.append(
        s(
          "rect",
          { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: barH.toFixed(1), fill: COLOURS[outcome], "data-outcome": outcome },
          s("title", {}, `${d.day}: ${n} ${outcome.replace("_", " ")}`),
        ),
      );
    }
    if (i % labelEvery === 0) {
      svg.append(s("text", { x: (x + barW / 2).toFixed(1), y: height - pad.bottom + 16, "text-anchor": "middle", class: "axis" }, d.day.slice(5)));
    }
  });
  svg.append(s("text", { x: pad.left, y: height - 6, class: "axis" }, "Day (month-day)"));
  const legend = h(
    "ul",
    { class: "legend" },
    OUTCOMES.map((o) => {
      const swatch = s("svg", { viewBox: "0 0 12 12", width: "12", height: "12", "aria-hidden": "true" }, s("rect", { width: "12", height: "12", fill: COLOURS[o] }));
      return h("li", {}, swatch, ` ${o.replace("_", " ")}`);
    }),
  );
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, "Sessions per day by outcome"), svg, legend);
}

/** The wait-time distribution as a histogram. */
export function histogram(buckets) {
  const width = 520;
  const height = 260;
  const pad = { top: 12, right: 8, bottom: 48, left: 36 };
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.count)));
  const total = buckets.reduce((a, b) => a + b.count, 0);
  const svg = frame(
    "Wait before an agent took the chat",
    `${total} sessions with a wait: ${buckets.map((b) => `${b.label} ${b.count}`).join(", ")}.`,
    width,
    height,
    max,
    pad,
  );
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const slot = plotW / buckets.length;
  if (total === 0) nothing(svg, width, height - pad.bottom, "No waits in this range");
  buckets.forEach((b, i) => {
    const barH = (plotH * b.count) / max;
    const x = pad.left + slot * i + 4;
    svg.append(
      s(
        "rect",
        { x: x.toFixed(1), y: (pad.top + plotH - barH).toFixed(1), width: (slot - 8).toFixed(1), height: barH.toFixed(1), class: "bar" },
        s("title", {}, `${b.label}: ${b.count}`),
      ),
      s("text", { x: (x + (slot - 8) / 2).toFixed(1), y: height - pad.bottom + 16, "text-anchor": "middle", class: "axis" }, b.label.replace(" or more", "+").replace("under ", "<")),
    );
    if (b.count > 0) {
      svg.append(s("text", { x: (x + (slot - 8) / 2).toFixed(1), y: (pad.top + plotH - barH - 4).toFixed(1), "text-anchor": "middle", class: "axis" }, String(b.count)));
    }
  });
  svg.append(s("text", { x: pad.left, y: height - 6, class: "axis" }, "Wait, queued to accepted"));
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, "Wait-time distribution"), svg);
}

/** `YYYY-MM-DD` from a date input as Unix ms of that local midnight (or ""). */
function dayStart(value, plusDays = 0) {
  if (!value) return "";
  const d = new Date(`${value}T00:00:00`);
  d.setDate(d.getDate() + plusDays);
  return Number.isNaN(d.getTime()) ? "" : String(d.getTime());
}

/** Usage columns: the JSON field and its heading. */
export const USAGE_COLUMNS = [
  ["chat_sessions", "Chats"],
  ["messages_in", "Messages in"],
  ["messages_out", "Messages out"],
  ["audio_minutes", "Audio min"],
  ["video_minutes", "Video min"],
  ["screen_share_minutes", "Screen share min"],
  ["whatsapp_received", "WhatsApp in"],
  ["whatsapp_sent", "WhatsApp out"],
];

/** A usage figure as shown: minutes with two decimals, counts as they are. */
function figure(field, value) {
  const n = Number(value ?? 0);
  return field.endsWith("_minutes") ? n.toFixed(2) : String(n);
}

/** Usage rows summed per column (minutes in hundredths, so the sum does not drift). */
export function usageTotals(rows) {
  const totals = {};
  for (const [field] of USAGE_COLUMNS) {
    const hundredths = field.endsWith("_minutes");
    const sum = rows.reduce((a, r) => a + (hundredths ? Math.round(Number(r[field] ?? 0) * 100) : Number(r[field] ?? 0)), 0);
    totals[field] = hundredths ? sum / 100 : sum;
  }
  return totals;
}

/** The usage table: one line per UTC day, target and channel, and the totals. */
export function usageView(rows) {
  const lines = rows.map((r) => [
    r.day,
    r.kind === "user" ? `user ${r.target}` : r.target,
    r.channel === "whatsapp" ? "WhatsApp" : "Widget",
    ...USAGE_COLUMNS.map(([field]) => figure(field, r[field])),
  ]);
  if (rows.length > 1) {
    const totals = usageTotals(rows);
    lines.push(["Total", "", "", ...USAGE_COLUMNS.map(([field]) => figure(field, totals[field]))]);
  }
  return table({ text: "Usage per UTC day, target and channel", visible: false }, ["Day (UTC)", "Target", "Channel", ...USAGE_COLUMNS.map(([, label]) => label)], lines, {
    empty: "No usage in this range.",
  });
}

export async function render(ctx) {
  const services = await get("/admin/v1/services").catch(() => null);
  if (!ctx.current()) return;
  const owned = ctx.isTenantAdmin ? null : ctx.me.services ?? [];
  const serviceOptions = [];
  if (ctx.isTenantAdmin) serviceOptions.push(["", "All services and users"]);
  const known = services ? services.map((x) => [x.id, `${x.display_name} (${x.id})`]) : (owned ?? []).map((id) => [id, id]);
  for (const [id, label] of known) if (!owned || owned.includes(id)) serviceOptions.push([id, label]);
  const service = h("select", { name: "service" }, serviceOptions.map(([v, l]) => h("option", { value: v }, l)));
  const outcome = h("select", { name: "outcome" }, h("option", { value: "" }, "Any outcome"), OUTCOMES.map((o) => h("option", { value: o }, o.replace("_", " "))));
  const channel = h(
    "select",
    { name: "channel" },
    [["", "Any channel"], ["widget", "Website widget"], ["whatsapp", "WhatsApp"]].map(([v, l]) => h("option", { value: v }, l)),
  );
  const from = h("input", { type: "date", name: "from" });
  const to = h("input", { type: "date", name: "to" });
  const weekAgo = new Date();
  weekAgo.setDate(weekAgo.getDate() - 13);
  from.value = `${weekAgo.getFullYear()}-${String(weekAgo.getMonth() + 1).padStart(2, "0")}-${String(weekAgo.getDate()).padStart(2, "0")}`;
  const problem = formProblem();
  const download = h("button", { class: "btn", type: "button", id: "csv" }, "Download CSV");
  const downloadUsage = h("button", { class: "btn", type: "button", id: "usage-csv" }, "Download usage CSV");
  const form = h(
    "form",
    { class: "card form filters", novalidate: true, "aria-label": "Report filters" },
    problem.node,
    h(
      "div",
      { class: "row" },
      field("Service", service).field,
      field("Outcome", outcome).field,
      field("Channel", channel).field,
      field("From (day)", from).field,
      field("To (day, included)", to).field,
    ),
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Show"), download),
  );
  const out = h("div", { class: "report" });
  const usageOut = h("div", { class: "usage" });
  const query = (format) => ({
    service: service.value,
    outcome: outcome.value,
    channel: channel.value,
    from: dayStart(from.value),
    to: dayStart(to.value, 1),
    limit: 10000,
    format,
  });

  // Usage counts whole UTC days: the day inputs as they are, both included.
  const usageQuery = (format) => ({
    service: service.value,
    channel: channel.value,
    from: from.value,
    to: to.value,
    format,
  });

  async function loadUsage() {
    replace(usageOut, h("p", { class: "loading" }, "Loading…"));
    try {
      const rows = await get("/admin/v1/usage", usageQuery("json"));
      if (!ctx.current()) return;
      replace(usageOut, usageView(rows));
    } catch (e) {
      replace(usageOut, ctx.errorBox(e));
    }
  }

  async function load() {
    problem.show("");
    replace(out, h("p", { class: "loading" }, "Loading…"));
    const usage = loadUsage();
    try {
      const rows = await get("/admin/v1/reports/sessions", query("json"));
      if (!ctx.current()) return;
      replace(out, reportView(ctx, rows));
    } catch (e) {
      replace(out, ctx.errorBox(e));
    }
    await usage;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  /** Fetches `path` as CSV with the token and saves it as `name`. */
  async function save(path, q, name, announcement) {
    try {
      const blob = await request("GET", path, { query: q, as: "blob" });
      const url = URL.createObjectURL(blob);
      const a = h("a", { download: `${name}-${new Date().toISOString().slice(0, 10)}.csv` });
      a.href = url;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      ctx.announce(announcement);
    } catch (e) {
      problem.show(describe(e));
    }
  }
  download.addEventListener("click", () => save("/admin/v1/reports/sessions", query("csv"), "sessions", "The CSV file is downloading."));
  downloadUsage.addEventListener("click", () => save("/admin/v1/usage", usageQuery("csv"), "usage", "The usage CSV file is downloading."));

  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "Every session, service sessions and direct contacts alike; open sessions have no outcome yet and count only in the table."),
    form,
    out,
    h(
      "section",
      { class: "usage-section", "aria-labelledby": "usage-heading" },
      h("h2", { id: "usage-heading" }, "Usage"),
      h(
        "p",
        {},
        "Per UTC day (the From and To days, both included; the last 30 days up to To if From is empty), target and channel: chats started, messages in (visitors) and out (agents and the service), call and screen-share minutes of answered calls, WhatsApp messages. The service and channel filters apply; the outcome filter does not.",
      ),
      h("div", { class: "actions" }, downloadUsage),
      usageOut,
    ),
  );
  await load();
}

function reportView(ctx, rows) {
  const transcript = h("div", { class: "transcript", "aria-live": "polite" });
  const newest = rows.slice().reverse().slice(0, 200);
  const tableRows = newest.map((r) => {
    const show = h("button", { class: "btn btn-small", type: "button" }, "Transcript");
    show.addEventListener("click", () => showTranscript(ctx, r.session, transcript));
    return [
      when(r.created_at),
      r.kind === "user" ? `user ${r.target}` : r.target,
      r.channel === "whatsapp" ? "WhatsApp" : "Widget",
      r.agent ?? "—",
      duration(r.wait_ms),
      duration(r.handling_ms),
      r.outcome ? r.outcome.replace("_", " ") : "open",
      (r.workflow_path ?? []).join(" → "),
      r.satisfaction ? `${r.satisfaction.score}/5${r.satisfaction.comment ? ` “${r.satisfaction.comment}”` : ""}` : "—",
      show,
    ];
  });
  return h(
    "div",
    {},
    h("div", { class: "charts" }, stackedBars(perDay(rows)), histogram(waitHistogram(rows))),
    h("h2", {}, `Sessions (${rows.length}${rows.length > newest.length ? `, the newest ${newest.length} shown` : ""})`),
    table("Sessions, newest first", ["Started", "Target", "Channel", "Agent", "Wait", "Handling", "Outcome", "Workflow path", "Rating", "Transcript"], tableRows, {
      empty: "No sessions match.",
    }),
    transcript,
  );
}

async function showTranscript(ctx, id, slot) {
  try {
    const t = await get(`/admin/v1/sessions/${seg(id)}/transcript`);
    const rows = (t.events ?? []).map((f) => {
      const e = f.event ?? {};
      const from = typeof e.from === "string" ? e.from : e.agent?.display_name ?? "";
      return [String(f.seq), when(f.at, true), e.kind ?? "", from, e.text ?? e.reason ?? ""];
    });
    replace(
      slot,
      h(
        "section",
        { class: "card", "aria-labelledby": "transcript-heading" },
        h("h2", { id: "transcript-heading" }, `Transcript of ${id}`),
        h("p", {}, `${t.session?.visitor_name ?? ""} <${t.session?.visitor_email ?? ""}>, from ${t.session?.origin ?? ""}`),
        table("Events", ["#", "When", "Event", "From", "Text"], rows, { empty: "No events." }),
      ),
    );
    slot.querySelector("h2").setAttribute("tabindex", "-1");
    slot.querySelector("h2").focus();
  } catch (e) {
    replace(slot, ctx.errorBox(e));
  }
}
