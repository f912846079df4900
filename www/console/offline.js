// Offline messages (docs/protocol.md §6.14): what visitors left while nobody could chat.
// Listed from /v1/agent/offline-messages (again every 30 s, and when the tab is shown
// again); answered by email through /v1/agent/offline-messages/{id}/answer. Every value a
// visitor wrote is put in the page as text.

import { fmtWhen, t } from "./i18n.js";

const REFRESH_MS = 30_000;

/** The agent's bearer token while signed in. */
let token = null;
let timer = 0;
/** The open messages, newest first, as the server lists them. */
let messages = [];
/** The message shown in the dialog. */
let current = null;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(at) {
  return fmtWhen(at);
}

function onVisible() {
  if (document.visibilityState === "visible") refresh();
}

/** Starts listing the messages of the agent signed in with `t`. */
export function startOffline(t) {
  stopOffline();
  token = t;
  $("offline-form").addEventListener("submit", send);
  $("offline-cancel").addEventListener("click", () => /** @type {HTMLDialogElement} */ ($("offline-dialog")).close());
  document.addEventListener("visibilitychange", onVisible);
  timer = setInterval(refresh, REFRESH_MS);
  refresh();
}

/** Stops (signed out). */
export function stopOffline() {
  token = null;
  clearInterval(timer);
  timer = 0;
  document.removeEventListener("visibilitychange", onVisible);
  $("offline-form").removeEventListener("submit", send);
  messages = [];
  render();
}

/** Lists the open messages again. */
export async function refresh() {
  if (!token) return;
  try {
    const res = await fetch("/v1/agent/offline-messages", {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!res.ok) return;
    const body = await res.json();
    messages = Array.isArray(body.messages) ? body.messages : [];
    render();
  } catch {
    // Offline: the next refresh tries again.
  }
}

/** Lists the messages (again, after the language changed). */
export function renderOffline() {
  render();
}

function render() {
  const list = $("offline");
  list.replaceChildren();
  for (const m of messages) {
    const item = el("li");
    const button = el("button", "offline-item");
    button.type = "button";
    const top = el("span", "offline-top");
    top.append(el("span", "offline-name", m.visitor_name), el("span", "offline-time", when(m.created_at)));
    button.append(top, el("span", "offline-preview", m.text));
    button.dataset.id = m.id;
    button.addEventListener("click", () => open(m));
    item.append(button);
    list.append(item);
  }
  $("offline-empty").hidden = messages.length > 0;
  const count = $("offline-count");
  count.hidden = messages.length === 0;
  count.textContent = String(messages.length);
}

function open(m) {
  current = m;
  $("offline-from").textContent = m.visitor_name;
  const email = /** @type {HTMLAnchorElement} */ ($("offline-email"));
  email.textContent = m.visitor_email;
  email.href = `mailto:${encodeURIComponent(m.visitor_email).replace("%40", "@")}`;
  $("offline-when").textContent = when(m.created_at);
  const page = m.context && m.context.page_url;
  $("offline-page-row").hidden = !page;
  $("offline-page").textContent = page || "";
  const attrs = $("offline-attributes");
  attrs.replaceChildren();
  for (const [k, v] of Object.entries((m.context && m.context.attributes) || {})) {
    attrs.append(el("dt", "", k), el("dd", "", String(v)));
  }
  attrs.hidden = attrs.childElementCount === 0;
  $("offline-text").textContent = m.text;
  const answer = /** @type {HTMLTextAreaElement} */ ($("offline-answer"));
  answer.value = "";
  $("offline-error").textContent = "";
  /** @type {HTMLDialogElement} */ ($("offline-dialog")).showModal();
  answer.focus();
}

async function send(event) {
  event.preventDefault();
  if (!current || !token) return;
  const answer = /** @type {HTMLTextAreaElement} */ ($("offline-answer"));
  const error = $("offline-error");
  const text = answer.value.trim();
  if (!text) {
    error.textContent = t("offline.write_first");
    answer.focus();
    return;
  }
  const submit = /** @type {HTMLButtonElement} */ ($("offline-send"));
  submit.disabled = true;
  error.textContent = "";
  try {
    const res = await fetch(`/v1/agent/offline-messages/${encodeURIComponent(current.id)}/answer`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const why = body && body.error && body.error.message;
      error.textContent = why ? t("offline.not_sent_why", { why }) : t("offline.not_sent_status", { status: res.status });
      if (res.status === 409) refresh();
      return;
    }
    const done = current;
    messages = messages.filter((m) => m.id !== done.id);
    render();
    /** @type {HTMLDialogElement} */ ($("offline-dialog")).close();
    $("offline-status").textContent = t("offline.sent", { email: done.visitor_email });
  } catch {
    error.textContent = t("offline.unreachable");
  } finally {
    submit.disabled = false;
  }
}
