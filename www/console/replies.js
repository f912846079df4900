// Saved replies: texts an agent keeps to answer common questions in two clicks. The
// "Saved replies" button under each chat's composer opens the list; a reply goes into
// the composer (at the cursor, to be edited or sent), the composer's text can be saved
// as a new one, and one can be deleted. Kept in this browser (localStorage), starting
// with a few common ones in the console's language (until the agent changes the list);
// shown as text only.

import { t } from "./i18n.js";

const KEY = "interact.console.replies";
const MAX = 50;
/** The starter replies, in the language in use. */
const defaults = () => [1, 2, 3, 4].map((n) => t(`replies.default_${n}`));

/** The composer the list is open for. */
let input = null;
/** The button that opened it. */
let opener = null;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
    if (Array.isArray(saved)) return saved.filter((r) => typeof r === "string");
  } catch {
    // Unreadable: the defaults.
  }
  return defaults();
}

function store(replies) {
  try {
    localStorage.setItem(KEY, JSON.stringify(replies.slice(0, MAX)));
  } catch {
    // Storage refused: kept until the page closes.
  }
}

function render() {
  const list = $("replies-list");
  list.replaceChildren();
  load().forEach((text, i) => {
    const li = document.createElement("li");
    const use = document.createElement("button");
    use.type = "button";
    use.className = "reply-use";
    use.textContent = text;
    use.addEventListener("click", () => insert(text));
    const del = document.createElement("button");
    del.type = "button";
    del.className = "btn btn-small reply-delete";
    del.textContent = t("replies.delete");
    del.setAttribute("aria-label", t("replies.delete_label", { text }));
    del.addEventListener("click", () => {
      const replies = load();
      replies.splice(i, 1);
      store(replies);
      render();
    });
    li.append(use, del);
    list.append(li);
  });
  $("replies-empty").hidden = list.childElementCount > 0;
  /** @type {HTMLButtonElement} */ ($("replies-save")).disabled = !input || !input.value.trim();
}

function insert(text) {
  if (!input) return;
  const at = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? at;
  input.value = input.value.slice(0, at) + text + input.value.slice(end);
  input.setSelectionRange(at + text.length, at + text.length);
  const target = input;
  close();
  target.focus();
}

function close() {
  const dialog = /** @type {HTMLDialogElement} */ ($("replies-dialog"));
  if (dialog.open) dialog.close();
  opener?.setAttribute("aria-expanded", "false");
  input = null;
  opener = null;
}

/** Wires the saved replies: one listener for every chat's button. */
export function setupReplies() {
  document.addEventListener("click", (e) => {
    const button = /** @type {HTMLElement} */ (e.target).closest?.(".composer-replies");
    if (!button) return;
    input = button.closest(".composer")?.querySelector(".composer-input") ?? null;
    opener = button;
    button.setAttribute("aria-expanded", "true");
    render();
    /** @type {HTMLDialogElement} */ ($("replies-dialog")).showModal();
  });
  $("replies-dialog").addEventListener("close", () => {
    const back = opener;
    opener?.setAttribute("aria-expanded", "false");
    input = null;
    opener = null;
    back?.focus();
  });
  $("replies-close").addEventListener("click", close);
  $("replies-save").addEventListener("click", () => {
    const text = input?.value.trim();
    if (!text) return;
    const replies = load().filter((r) => r !== text);
    replies.unshift(text);
    store(replies);
    render();
  });
}
