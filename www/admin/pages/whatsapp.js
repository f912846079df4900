// The "WhatsApp (Twilio)" card of a service's page (Tenant Admins only): the connector
// as it is (with the webhook URL to set in Twilio's console), a form that sets it and
// shows the server's refusal, and a button that removes it after a confirmation.

import { ApiError, del, describe, get, put, seg } from "../api.js";
import { copyText, field, formProblem, h, replace, setFieldError } from "../dom.js";

/** Twilio's API, unless a test or a proxy says otherwise. */
export const DEFAULT_API_BASE = "https://api.twilio.com";

/** The connector's fields, in the order the server names them in its messages. */
const FIELDS = ["account_sid", "auth_token", "api_key_sid", "api_key_secret", "sender", "api_base"];

/** `service`'s connector, or null where it has none (404). */
export async function loadConnector(service) {
  try {
    return await get(`/admin/v1/services/${seg(service)}/whatsapp`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !/no route/.test(e.message)) return null;
    throw e;
  }
}

/** Which connector field a server message is about ("sender: ..."), or null. */
function fieldOf(message) {
  const m = /^([a-z_]+)\s*:/.exec(message);
  if (m && FIELDS.includes(m[1])) return m[1];
  return FIELDS.find((n) => new RegExp(`\\b${n}\\b`).test(message)) ?? null;
}

/**
 * The card. `loaded` is what `loadConnector` gave: `{connector}` (null for none) or
 * `{error}`; `licensed` whether the service has the Contact Center licence.
 */
export function whatsappCard(ctx, service, loaded, licensed) {
  const card = h("section", { class: "card whatsapp", id: "whatsapp", "aria-labelledby": "whatsapp-heading" });
  const show = (connector, error) => replace(card, ...content(ctx, service, connector, error, licensed, show));
  show(loaded.connector ?? null, loaded.error ?? null);
  return card;
}

function content(ctx, service, connector, error, licensed, show) {
  const heading = h("h2", { id: "whatsapp-heading" }, "WhatsApp (Twilio)");
  const lead = h(
    "p",
    { class: "help" },
    "Customers write to the service's WhatsApp Business number; their messages run its workflow and reach its agents, whose replies go back through Twilio.",
  );
  if (error) return [heading, lead, ctx.errorBox(error)];

  const current = connector ? currentBox(ctx, service, connector, show) : h("p", { class: "whatsapp-none" }, "Not connected: this service has no WhatsApp connector.");
  const notLicensed = licensed
    ? null
    : h("p", { class: "alert alert-info" }, "This service does not have the Contact Center licence: the server refuses a WhatsApp connector for it until a Tenant Admin adds the licence above.");

  const input = (name, value, extra = {}) =>
    h("input", { type: "text", name, value: value ?? "", autocomplete: "off", spellcheck: "false", class: "mono", ...extra });
  const fields = {
    account_sid: field("Account SID", input("account_sid", connector?.account_sid, { placeholder: "AC…" }), {
      help: "Your Twilio account's SID: AC and 32 hex digits (Twilio Console, Account info).",
    }),
    auth_token: field("Auth token reference", input("auth_token", connector?.auth_token, { placeholder: "file:twilio-token" }), {
      help: "Where the server reads the auth token: file:NAME (a file in the server's secrets folder) or env:NAME (a variable starting with INTERACT_SECRET_, unless the operator chose another prefix). Twilio signs its webhooks with it.",
    }),
    api_key_sid: field("API key SID (optional)", input("api_key_sid", connector?.api_key_sid, { placeholder: "SK…" }), {
      help: "To send with an API key instead of the auth token (Twilio's advice for production): SK and 32 hex digits.",
    }),
    api_key_secret: field("API key secret reference (optional)", input("api_key_secret", connector?.api_key_secret, { placeholder: "env:INTERACT_SECRET_TWILIO_API_KEY" }), {
      help: "Where the server reads the API key's secret, as for the auth token. Give both API key fields or neither.",
    }),
    sender: field("Sender number", input("sender", connector?.sender, { placeholder: "+12025550123", inputmode: "tel" }), {
      help: "The WhatsApp Business sender: +1 and 10 digits (United States numbers only).",
    }),
    api_base: field("API base URL", input("api_base", connector?.api_base ?? DEFAULT_API_BASE, { inputmode: "url" }), {
      help: `Twilio's API, ${DEFAULT_API_BASE}, unless you send through a proxy.`,
    }),
  };
  const problem = formProblem();
  const save = h("button", { class: "btn btn-primary", type: "submit" }, connector ? "Save connector" : "Connect WhatsApp");
  const form = h(
    "form",
    { class: "form whatsapp-form", novalidate: true, "aria-labelledby": "whatsapp-form-heading" },
    h("h3", { id: "whatsapp-form-heading" }, connector ? "Change the connector" : "Connect a Twilio WhatsApp sender"),
    h(
      "ul",
      { class: "help whatsapp-rules" },
      h("li", {}, "Secrets are given as references, file:NAME or env:NAME, to what the server's operator put in its secrets ([secrets] in the server's configuration), which the server reads when it needs them: the auth token and the API key secret themselves are never stored nor shown here."),
      h("li", {}, "Only United States senders (+1) are accepted, and only for services with the Contact Center licence."),
      h("li", {}, "Message templates are not supported: agents can reply only within 24 hours of the customer's last message, as WhatsApp allows without a template."),
    ),
    problem.node,
    Object.values(fields).map((f) => f.field),
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.show("");
    for (const f of Object.values(fields)) setFieldError(f, "");
    const value = (name) => fields[name].control.value.trim();
    const optional = (name) => value(name) || undefined;
    const body = {
      account_sid: value("account_sid"),
      auth_token: value("auth_token"),
      api_key_sid: optional("api_key_sid"),
      api_key_secret: optional("api_key_secret"),
      sender: value("sender"),
      api_base: value("api_base") || DEFAULT_API_BASE,
    };
    save.disabled = true;
    try {
      const saved = await put(`/admin/v1/services/${seg(service)}/whatsapp`, body);
      if (!ctx.current()) return;
      show(saved, null);
      ctx.announce("WhatsApp connector saved. Set its webhook URL in Twilio's console.");
      document.getElementById("whatsapp-webhook")?.focus();
    } catch (e) {
      const name = e instanceof ApiError && e.status === 400 ? fieldOf(e.message) : null;
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
  return [heading, lead, current, notLicensed, form];
}

/** The connector as it is: sender, account, the webhook URL to copy, and Remove. */
function currentBox(ctx, service, connector, show) {
  const url = h("input", { type: "text", readonly: true, class: "mono", id: "whatsapp-webhook", spellcheck: "false" });
  url.value = connector.webhook_url ?? "";
  const copied = h("span", { class: "copied", role: "status" });
  const copy = h("button", { class: "btn", type: "button" }, "Copy webhook URL");
  copy.addEventListener("click", async () => {
    const message = await copyText(url.value, url);
    copied.textContent = message;
  });
  const urlField = field("Webhook URL", url, {
    help: "In Twilio's console, set it as the sender's webhook for \"A message comes in\" (HTTP POST). Status callbacks need no setting: each reply names its own.",
  });
  const remove = h("button", { class: "btn btn-danger", type: "button" }, "Remove connector");
  remove.addEventListener("click", async () => {
    const question = `Remove the WhatsApp connector of ${service}? Messages Twilio posts to its webhook are refused from then on, and replies to open WhatsApp chats no longer go out.`;
    if (!(await ctx.confirm(question, "Remove connector"))) return;
    try {
      await del(`/admin/v1/services/${seg(service)}/whatsapp`);
      if (!ctx.current()) return;
      show(null, null);
      ctx.announce(`The WhatsApp connector of ${service} was removed.`);
    } catch (e) {
      ctx.announce(describe(e), "error");
    }
  });
  return h(
    "div",
    { class: "whatsapp-current" },
    h(
      "p",
      { class: "whatsapp-summary" },
      h("strong", {}, "Connected: "),
      `sender ${connector.sender}, account ${connector.account_sid}`,
      connector.api_key_sid ? `, API key ${connector.api_key_sid}` : "",
      `, through ${connector.api_base}.`,
    ),
    urlField.field,
    h("div", { class: "actions" }, copy, copied, remove),
  );
}
