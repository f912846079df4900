// Webhooks: where session events are posted (signed), the secret shown once, and each
// webhook's delivery log.

import { ApiError, del, describe, get, post, put, seg } from "../api.js";
import { checkboxes, copyText, field, formProblem, h, replace, setFieldError, table, when } from "../dom.js";

export const title = "Webhooks";

const EVENTS = [
  ["session.started", "Session started"],
  ["message", "Message"],
  ["session.ended", "Session ended (with its outcome)"],
];

/** The secret, shown once, with a Copy button. */
function secretBox(ctx, secret) {
  const input = h("input", { type: "text", readonly: true, class: "mono", id: "webhook-secret", spellcheck: "false" });
  input.value = secret;
  const copy = h("button", { class: "btn", type: "button" }, "Copy secret");
  copy.addEventListener("click", async () => ctx.announce(await copyText(secret, input)));
  return h(
    "div",
    { class: "alert alert-secret", role: "alert" },
    h("p", {}, h("strong", {}, "The signing secret, shown this once. "), "Keep it in the receiver: it checks the Interact-Signature header (HMAC-SHA256 over the timestamp and the body) with it."),
    h("div", { class: "field" }, h("label", { for: "webhook-secret" }, "Signing secret"), input),
    copy,
  );
}

export async function render(ctx, [id]) {
  if (id !== undefined) return renderDeliveries(ctx, id);
  const hooks = await get("/admin/v1/webhooks");
  if (!ctx.current()) return;
  const list = h("div", {});
  const created = h("div", {});
  const reload = async () => {
    try {
      const fresh = await get("/admin/v1/webhooks");
      if (ctx.current()) replace(list, hooksTable(ctx, fresh, reload, created));
    } catch (e) {
      replace(list, ctx.errorBox(e));
    }
  };
  replace(list, hooksTable(ctx, hooks, reload, created));

  const url = h("input", { type: "text", inputmode: "url", name: "url", required: true, autocomplete: "off", spellcheck: "false", class: "mono", placeholder: "https://crm.example.com/interact" });
  const urlField = field("URL", url, { help: "http:// or https://; every event is posted here as JSON." });
  const events = checkboxes("Events", EVENTS, EVENTS.map(([v]) => v), "events");
  const problem = formProblem();
  const form = h(
    "form",
    { class: "card form", novalidate: true, "aria-labelledby": "new-webhook-heading" },
    h("h2", { id: "new-webhook-heading" }, "New webhook"),
    problem.node,
    urlField.field,
    events.node,
    h("div", { class: "actions" }, h("button", { class: "btn btn-primary", type: "submit" }, "Create webhook")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    setFieldError(urlField, "");
    try {
      const hook = await post("/admin/v1/webhooks", { url: url.value.trim(), events: events.values() });
      url.value = "";
      replace(created, h("h2", {}, "Webhook created"), h("p", { class: "mono" }, hook.url), secretBox(ctx, hook.secret));
      ctx.announce("Webhook created. Copy its secret now: it is not shown again.");
      reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && /^url/.test(e.message)) setFieldError(urlField, e.message);
      else problem.show(describe(e));
    }
  });

  replace(
    ctx.main,
    h("h1", {}, title),
    h("p", { class: "lead" }, "Interact posts session events to these URLs, signed, and retries with backoff until the receiver answers 2xx."),
    created,
    list,
    form,
  );
}

function hooksTable(ctx, hooks, reload, created) {
  const rows = hooks.map((w) => {
    const remove = h("button", { class: "btn btn-small btn-danger", type: "button" }, "Delete");
    remove.addEventListener("click", async () => {
      if (!(await ctx.confirm(`Delete the webhook to ${w.url}? Its delivery log goes too.`, "Delete webhook"))) return;
      try {
        await del(`/admin/v1/webhooks/${seg(w.id)}`);
        ctx.announce("Webhook deleted.");
        reload();
      } catch (e) {
        ctx.announce(describe(e), "error");
      }
    });
    const rotate = h("button", { class: "btn btn-small", type: "button" }, "New secret");
    rotate.addEventListener("click", async () => {
      if (!(await ctx.confirm(`Make a new signing secret for ${w.url}? The old one stops working at once.`, "Make a new secret"))) return;
      try {
        const changed = await put(`/admin/v1/webhooks/${seg(w.id)}`, { url: w.url, events: w.events, rotate_secret: true });
        replace(created, h("h2", {}, "New secret"), h("p", { class: "mono" }, changed.url), secretBox(ctx, changed.secret));
        ctx.announce("New secret made. Copy it now: it is not shown again.");
      } catch (e) {
        ctx.announce(describe(e), "error");
      }
    });
    return [
      h("span", { class: "mono url" }, w.url),
      (w.events ?? []).join(", "),
      when(w.created_at),
      h("div", { class: "row-actions" }, h("a", { href: `#/webhooks/${seg(w.id)}`, class: "btn btn-small" }, "Deliveries"), rotate, remove),
    ];
  });
  return table("Webhooks", ["URL", "Events", "Created", "Actions"], rows, { empty: "No webhooks yet." });
}

async function renderDeliveries(ctx, id) {
  const [hook, deliveries] = await Promise.all([
    get(`/admin/v1/webhooks/${seg(id)}`),
    get(`/admin/v1/webhooks/${seg(id)}/deliveries`, { limit: 100 }),
  ]);
  if (!ctx.current()) return;
  const rows = deliveries.map((d) => [
    String(d.id),
    d.event,
    when(d.created_at),
    String(d.attempts),
    d.delivered_at ? h("span", { class: "badge badge-on" }, `Delivered ${when(d.delivered_at)}`) : d.next_at ? h("span", { class: "badge" }, `Next try ${when(d.next_at)}`) : h("span", { class: "badge badge-off" }, "Given up"),
    d.last_status === null || d.last_status === undefined ? "—" : String(d.last_status),
    d.last_error ?? "—",
    h("details", {}, h("summary", {}, "Body"), h("pre", { class: "json" }, d.body)),
  ]);
  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/webhooks" }, "Webhooks")),
    h("h1", {}, "Deliveries"),
    h("p", { class: "lead" }, "To ", h("span", { class: "mono" }, hook.url), ` (${(hook.events ?? []).join(", ")}), newest first.`),
    table("Deliveries, newest first", ["#", "Event", "Made", "Attempts", "State", "Last status", "Last error", "Body"], rows, { empty: "Nothing sent yet." }),
  );
}
