// Internal notes on a session: what agents leave for each other (after a transfer, or
// for a colleague of the service). Read and written through /v1/agent/sessions/{id}/notes;
// never part of the chat, so the visitor never sees them. Shown as text.

import { fmtShort, t } from "./i18n.js";

/** The agent's bearer token while signed in. */
let token = null;

/** Signed in with `t` (or out, with null). */
export function setNotesToken(t) {
  token = t;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render(root, notes) {
  const list = root.querySelector(".notes");
  list.replaceChildren();
  for (const n of notes) {
    const item = el("li", "note");
    const head = el("div", "note-head");
    const time = el("time", "note-time", fmtShort(new Date(n.at)));
    time.dateTime = new Date(n.at).toISOString();
    head.append(el("span", "note-agent", n.agent), time);
    item.append(head, el("p", "note-text", n.text));
    list.append(item);
  }
  root.querySelector(".notes-empty").hidden = notes.length > 0;
}

async function request(session, init) {
  const res = await fetch(`/v1/agent/sessions/${encodeURIComponent(session)}/notes`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, ...(init?.headers ?? {}) },
    cache: "no-store",
  });
  const body = await res.json().catch(() => ({}));
  return { res, body };
}

/** Loads the notes of `session` into its view `root`. */
export async function loadNotes(root, session) {
  if (!token) return;
  try {
    const { res, body } = await request(session);
    if (res.ok) render(root, body.notes ?? []);
  } catch {
    // Offline: the next time the chat is opened tries again.
  }
}

/** Wires the note form of the view `root` of `session`. */
export function attachNotes(root, session) {
  const form = root.querySelector(".notes-form");
  const input = /** @type {HTMLTextAreaElement} */ (root.querySelector(".notes-input"));
  const error = root.querySelector(".notes-error");
  const add = /** @type {HTMLButtonElement} */ (root.querySelector(".notes-add"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || !token) return;
    add.disabled = true;
    error.textContent = "";
    try {
      const { res, body } = await request(session, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text }),
      });
      if (!res.ok) {
        error.textContent = t("notes.not_saved", { why: body?.error?.message ?? res.status });
        return;
      }
      input.value = "";
      await loadNotes(root, session);
    } catch {
      error.textContent = t("notes.unreachable");
    } finally {
      add.disabled = false;
    }
  });
  loadNotes(root, session);
}
