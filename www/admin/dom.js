// Building the DOM without markup: every string becomes a text node or an attribute
// value, never HTML: nothing here parses markup, sets inline style or event-handler attributes.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Attribute names that would run code or restyle the page; refused outright. */
function safeAttribute(name) {
  const n = name.toLowerCase();
  return !n.startsWith("on") && n !== "style" && n !== "srcdoc";
}

function apply(node, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "on") {
      for (const [type, handler] of Object.entries(value)) node.addEventListener(type, handler);
    } else if (key === "value" || key === "checked" || key === "selected") {
      node[key] = value;
    } else if (key === "href") {
      // Only same-site paths, fragments and http(s) URLs become links.
      const v = String(value);
      if (/^(#|\/(?!\/)|https?:\/\/)/i.test(v)) node.setAttribute("href", v);
    } else if (safeAttribute(key)) {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h("p", {class: "x"}, "text", child, ...)`. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** An SVG element, made with createElementNS. */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || !safeAttribute(key)) continue;
    node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

/** Replaces every child of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

let ids = 0;
/** A fresh id for label/aria wiring. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * A labelled form field. `control` is an input/select/textarea element (given an id here
 * if it has none); `help` a hint; returns `{field, control, error}` where `error` is the
 * element that shows the server's message for this field.
 */
export function field(label, control, { help, className } = {}) {
  if (!control.id) control.id = uid("f");
  const described = [];
  const helpNode = help ? h("p", { class: "help", id: `${control.id}-help` }, help) : null;
  if (helpNode) described.push(helpNode.id);
  const error = h("p", { class: "field-error", id: `${control.id}-error`, hidden: true });
  described.push(error.id);
  control.setAttribute("aria-describedby", described.join(" "));
  const wrap = h(
    "div",
    { class: ["field", className] },
    h("label", { for: control.id }, label),
    control,
    helpNode,
    error,
  );
  return { field: wrap, control, error };
}

/** Shows `message` under a field (or clears it with an empty message). */
export function setFieldError(f, message) {
  f.error.textContent = message ?? "";
  f.error.hidden = !message;
  if (message) f.control.setAttribute("aria-invalid", "true");
  else f.control.removeAttribute("aria-invalid");
}

/** A group of checkboxes in a fieldset; `checked` the values ticked. */
export function checkboxes(legend, options, checked, name) {
  const set = new Set(checked ?? []);
  const boxes = options.map(([value, label]) => {
    const input = h("input", { type: "checkbox", name, value, id: uid(name), checked: set.has(value) });
    return { value, input, node: h("div", { class: "check" }, input, h("label", { for: input.id }, label)) };
  });
  const node = h("fieldset", { class: "checks" }, h("legend", {}, legend), boxes.map((b) => b.node));
  return { node, values: () => boxes.filter((b) => b.input.checked).map((b) => b.value) };
}

/** A `<table>` with a caption, header cells and one row per item. */
export function table(caption, headers, rows, { empty = "Nothing yet.", className } = {}) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: ["data", className] },
      h("caption", { class: caption.visible ? "" : "visually-hidden" }, caption.text ?? caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
    ),
  );
}

/** A date and time in the admin's locale, from Unix milliseconds (or "—"); `seconds` too. */
export function when(ms, seconds = false) {
  if (ms === null || ms === undefined || ms === "") return "—";
  const d = new Date(Number(ms));
  const timeStyle = seconds ? "medium" : "short";
  return Number.isNaN(d.getTime()) ? String(ms) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle });
}

/** A duration in milliseconds as "1 min 5 s" (or "—"). */
export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  const total = Math.round(Number(ms) / 1000);
  if (total < 60) return `${total} s`;
  const m = Math.floor(total / 60);
  const sec = total % 60;
  if (m < 60) return sec ? `${m} min ${sec} s` : `${m} min`;
  const hr = Math.floor(m / 60);
  return `${hr} h ${m % 60} min`;
}

/** Copies `text` to the clipboard; on refusal selects `fallback` (an input) instead. */
export async function copyText(text, fallback) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    return "Copied to the clipboard.";
  } catch (_) {
    if (fallback) {
      fallback.focus();
      fallback.select();
    }
    return "Selected: press Ctrl+C (Cmd+C on a Mac) to copy.";
  }
}

/**
 * A place for a form's error that belongs to no one field (a refusal, a conflict): an
 * alert, announced when it appears. `show(text)` sets it, `show("")` clears it.
 */
export function formProblem() {
  const node = h("p", { class: "form-error", role: "alert" });
  return {
    node,
    show(text) {
      node.textContent = text ?? "";
    },
  };
}
