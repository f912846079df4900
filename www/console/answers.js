// The visitor's answers to the Collect Information questions of the session's workflow
// (asked before an agent took the chat): read from /v1/agent/sessions/{id}/answers and
// listed at the top of the session's details, question → answer; the visitor's messages
// that gave them are marked in the transcript by the page. What the visitor wrote and
// what the workflow asked are shown as text only.

/** The agent's bearer token while signed in. */
let token = null;

/** Signed in with `t` (or out, with null). */
export function setAnswersToken(t) {
  token = t;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * The answers kept for `session`: `[{name, question, value, seq, at}]` in the order the
 * questions were first answered, or null if they could not be read (offline).
 */
export async function loadAnswers(session) {
  if (!token) return null;
  try {
    const res = await fetch(`/v1/agent/sessions/${encodeURIComponent(session)}/answers`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!res.ok) return null;
    const body = await res.json();
    return Array.isArray(body.answers) ? body.answers : null;
  } catch {
    return null;
  }
}

/** Lists `answers` in the details of the view `root` (hidden while there are none). */
export function renderAnswers(root, answers) {
  const section = root.querySelector(".answers");
  const list = root.querySelector(".answers-list");
  list.replaceChildren();
  for (const a of answers) {
    const row = el("div", "answer");
    row.dataset.name = String(a.name);
    const value = el("dd", "answer-value");
    value.append(el("span", "answer-text", String(a.value)), " ", el("span", "answer-name mono", String(a.name)));
    row.append(el("dt", "answer-question", String(a.question)), value);
    list.append(row);
  }
  section.hidden = answers.length === 0;
}
