/*
 * Interact loader: the one script a website embeds. It draws the launcher button at once,
 * checks the embed code for this page's origin, and opens the widget in a frame served
 * by the Interact server. It changes nothing on the page but its own two elements, needs
 * no inline script or style (a strict Content-Security-Policy works: allow this server
 * in script-src, connect-src and frame-src), and talks to the frame only through
 * postMessage with exact origins. It stores nothing until a chat session exists (which
 * needs the visitor's consent); then a sessionStorage flag reopens the widget after a
 * reload.
 *
 * <script async src="https://chat.example.com/widget/loader.js"
 *   data-interact-code="ie1_..." data-interact-lang="de"
 *   data-interact-position="bottom-left" data-interact-color="#0a5bd3"
 *   data-interact-z-index="1000"></script>
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__interactLoaded) return;
  window.__interactLoaded = true;
  var mark = function (name) {
    if (window.performance && performance.mark) performance.mark("interact:" + name);
  };
  mark("loader-start");
  var data = script.dataset;
  var code = data.interactCode || "";
  var server = new URL(script.src, location.href).origin;
  var host = location.origin;
  var lang = data.interactLang || document.documentElement.lang || navigator.language || "en";
  var WORDS = { en: { open: "Open chat", close: "Close chat", title: "Chat", unread: " unread", refused: "Chat is not available on this website." }, de: { open: "Chat öffnen", close: "Chat schließen", title: "Chat", unread: " ungelesen", refused: "Der Chat ist auf dieser Website nicht verfügbar." } };
  var words = WORDS[lang.split(/[-_]/)[0].toLowerCase()] || WORDS.en;
  var side = data.interactPosition === "bottom-left" ? "left" : "right";
  var z = /^\d{1,10}$/.test(data.interactZIndex || "") ? data.interactZIndex : "2147483000";
  var color = /^#[0-9a-fA-F]{6}$/.test(data.interactColor || "") ? data.interactColor : "#0a5bd3";
  var flag = "interact:open:" + code;
  var frame = null, ready = false, open = false, refused = null, note = null;

  function css(el, props) {
    for (var k in props) el.style.setProperty(k, props[k], "important");
    return el;
  }
  function el(tag, props) {
    var e = document.createElement(tag);
    return css(e, props);
  }
  var base = { "box-sizing": "border-box", margin: "0", position: "fixed", bottom: "20px",
    "z-index": z };
  base[side] = "20px";

  var button = el("button", Object.assign({}, base, {
    width: "56px", height: "56px", padding: "0", border: "0", "border-radius": "50%",
    background: color, color: "#fff", cursor: "pointer", display: "flex",
    "align-items": "center", "justify-content": "center",
    "box-shadow": "0 2px 10px rgba(0,0,0,.3)"
  }));
  button.type = "button";
  button.setAttribute("aria-label", words.open);
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("data-interact", "launcher");
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  button.appendChild(svg);
  var badge = el("span", { position: "absolute", top: "-4px", right: "-4px", "min-width": "20px",
    height: "20px", padding: "0 5px", "border-radius": "10px", background: "#c62828",
    color: "#fff", font: "600 12px/20px system-ui, sans-serif", display: "none" });
  button.appendChild(badge);

  function small() {
    return window.matchMedia && matchMedia("(max-width: 480px)").matches;
  }
  function post(type) {
    if (frame && ready) frame.contentWindow.postMessage({ interact: 1, type: type }, server);
  }
  function place() {
    if (!frame) return;
    var full = small();
    var props = full
      ? { inset: "0", width: "100%", height: "100%", "border-radius": "0" }
      : { bottom: "88px", width: "min(380px, calc(100vw - 40px))",
          height: "min(600px, calc(100vh - 108px))", "border-radius": "12px" };
    props.top = full ? "0" : "auto";
    props[side] = full ? "0" : "20px";
    css(frame, props);
    css(button, { display: open && full ? "none" : "flex" });
  }
  function createFrame() {
    frame = el("iframe", Object.assign({}, base, { border: "0", background: "#fff",
      "box-shadow": "0 4px 24px rgba(0,0,0,.25)", display: "none" }));
    frame.src = server + "/widget/frame?code=" + encodeURIComponent(code) +
      "&host=" + encodeURIComponent(host) + "&lang=" + encodeURIComponent(lang);
    frame.title = words.title;
    frame.allow = "microphone; camera; display-capture; autoplay";
    frame.setAttribute("data-interact", "frame");
    document.body.appendChild(frame);
    place();
  }
  function showNote() {
    if (!note) {
      note = el("p", Object.assign({}, base, { bottom: "88px", "max-width": "280px",
        padding: "12px 14px", background: "#fff", color: "#222", "border-radius": "8px",
        font: "14px/1.4 system-ui, sans-serif", "box-shadow": "0 2px 10px rgba(0,0,0,.3)" }));
      note.setAttribute("role", "alert");
      note.setAttribute("data-interact", "refusal");
      note.textContent = words.refused;
      document.body.appendChild(note);
    } else {
      css(note, { display: note.style.display === "none" ? "block" : "none" });
    }
  }
  function setOpen(value) {
    if (refused) return showNote();
    open = value;
    if (!frame) createFrame();
    css(frame, { display: value ? "block" : "none" });
    place();
    button.setAttribute("aria-expanded", String(value));
    button.setAttribute("aria-label", value ? words.close : words.open);
    post(value ? "open" : "hidden");
    if (value) frame.focus(); else button.focus();
  }
  button.addEventListener("click", function () { setOpen(!open); });
  window.addEventListener("resize", place);
  window.addEventListener("message", function (e) {
    if (e.origin !== server || !frame || e.source !== frame.contentWindow) return;
    var m = e.data;
    if (!m || m.interact !== 1) return;
    if (m.type === "ready") {
      ready = true;
      post(open ? "open" : "hidden");
    } else if (m.type === "close") {
      setOpen(false);
    } else if (m.type === "unread") {
      var n = Number(m.value) || 0;
      badge.textContent = n > 99 ? "99+" : String(n);
      css(badge, { display: n > 0 && !open ? "block" : "none" });
      button.setAttribute("aria-label", (open ? words.close : words.open) + (n > 0 ? ", " + n + words.unread : ""));
    } else if (m.type === "session") {
      try {
        if (m.value) sessionStorage.setItem(flag, "1"); else sessionStorage.removeItem(flag);
      } catch (_) { /* storage blocked: the chat still works, it will not reopen */ }
    }
  });

  function mount() {
    document.body.appendChild(button);
    mark("launcher-shown");
    var again = false;
    try { again = sessionStorage.getItem(flag) === "1"; } catch (_) {}
    if (again) setOpen(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // Is this page allowed to use the code? The answer (CORS) comes only for origins in the
  // code's Domain Template; anything else means the widget must not open here.
  fetch(server + "/v1/config?code=" + encodeURIComponent(code), { credentials: "omit" })
    .then(function (r) {
      if (!r.ok) throw new Error(r.status === 404 ? "unknown or revoked embed code" : "status " + r.status);
      return r.json();
    })
    .then(function (config) {
      var name = config && config.target && config.target.display_name;
      if (typeof name === "string") button.title = name;
      button.setAttribute("data-state", "ready");
    })
    .catch(function (e) {
      refused = String(e && e.message || e);
      button.setAttribute("data-state", "refused");
      if (frame) { frame.remove(); frame = null; open = false; }
      button.setAttribute("aria-expanded", "false");
      console.warn("Interact: the widget is disabled on " + host + " (" + refused +
        "). Check the embed code and its Domain Template on the Preview page.");
    });
})();
