/*
 * Interact loader: the one script a website embeds. It draws the launcher at once, checks
 * the embed code for this page's origin, and opens the widget in a frame served by the
 * Interact server. It changes nothing on the page but its own elements (and the title,
 * while the widget is closed and an agent writes), needs no inline script or style (a
 * strict CSP works: allow this server in script-src, connect-src and frame-src), and
 * talks to the frame only through postMessage with exact origins. It stores nothing until
 * a chat session exists; then a sessionStorage flag reopens the widget after a reload.
 *
 * <script async src="https://chat.example.com/widget/loader.js"
 *   data-interact-code="ie1_..." data-interact-lang="de"
 *   data-interact-position="bottom-left" data-interact-color="#0a5bd3"
 *   data-interact-z-index="1000" data-interact-sound="on"></script>
 *
 * The page's API is `window.Interact` (loader.d.ts; README.md has the queue stub for
 * calls made before this script ran).
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
  var WORDS = { en: { open: "Open chat", close: "Close chat", title: "Chat", unread: " unread", refused: "Chat is not available on this website.", message: "New message", unavailable: "Chat unavailable" }, de: { open: "Chat öffnen", close: "Chat schließen", title: "Chat", unread: " ungelesen", refused: "Der Chat ist auf dieser Website nicht verfügbar.", message: "Neue Nachricht", unavailable: "Chat nicht verfügbar" } };
  var words = WORDS[lang.split(/[-_]/)[0].toLowerCase()] || WORDS.en;
  var side = data.interactPosition === "bottom-left" ? "left" : "right";
  var z = /^\d{1,10}$/.test(data.interactZIndex || "") ? data.interactZIndex : "2147483000";
  var color = /^#[0-9a-fA-F]{6}$/.test(data.interactColor || "") ? data.interactColor : "#0a5bd3";
  var flag = "interact:open:" + code;
  var frame = null, ready = false, open = false, refused = null, note = null, mounted = false;
  var unread = 0, session = false, sound = data.interactSound === "on", audio = null;
  // Limits of a chat's context (interact_sdk::limits; the server checks them again).
  var MAX_ATTRIBUTES = 20, MAX_KEY = 40, MAX_VALUE = 200, MAX_URL = 2048, MAX_ID = 128;
  var EVENTS = ["opened", "closed", "unread", "session-started", "session-ended"];
  var listeners = {}, attributes = {}, later = [], identity = null;

  function warn(text) {
    if (window.console && console.warn) console.warn("Interact: " + text);
  }
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
  var ICONS = {
    chat: "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z"
  };
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("data-icon", "chat");
  var path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", ICONS.chat);
  svg.appendChild(path);
  button.appendChild(svg);
  var badge = el("span", { position: "absolute", top: "-4px", right: "-4px", "min-width": "20px",
    height: "20px", padding: "0 5px", "border-radius": "10px", background: "#c62828",
    color: "#fff", font: "600 12px/20px system-ui, sans-serif", display: "none" });
  badge.setAttribute("data-interact", "badge");
  badge.setAttribute("aria-hidden", "true");
  button.appendChild(badge);

  // Tells the page's listeners (Interact.on); one that throws stops nothing else.
  function emit(name, detail) {
    (listeners[name] || []).slice().forEach(function (fn) {
      try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }

  // The launcher's icon (an X while open), label and badge.
  function label() {
    if (refused) {
      button.setAttribute("aria-label", words.unavailable);
      return;
    }
    var n = open ? 0 : unread;
    button.setAttribute("aria-label", (open ? words.close : words.open) +
      (n > 0 ? ", " + n + words.unread : ""));
    var icon = open ? "close" : "chat";
    if (svg.getAttribute("data-icon") !== icon) {
      svg.setAttribute("data-icon", icon);
      path.setAttribute("d", ICONS[icon]);
    }
    badge.textContent = n > 99 ? "99+" : String(n);
    css(badge, { display: n > 0 ? "block" : "none" });
  }

  // The page's title blinks while the widget is closed and an agent writes.
  var blinkTimer = null, blinkTitle = "", blinkText = "", blinkShown = false;
  function blink() {
    blinkText = "(" + unread + ") " + words.message;
    if (blinkTimer) return;
    blinkTitle = document.title;
    blinkShown = false;
    flip();
    blinkTimer = setInterval(flip, 1000);
  }
  function flip() {
    // The page changed its title meanwhile: that one comes back.
    if (document.title !== blinkText && document.title !== blinkTitle) blinkTitle = document.title;
    blinkShown = !blinkShown;
    document.title = blinkShown ? blinkText : blinkTitle;
  }
  function stopBlink() {
    if (!blinkTimer) return;
    clearInterval(blinkTimer);
    blinkTimer = null;
    if (document.title === blinkText) document.title = blinkTitle;
  }
  window.addEventListener("focus", stopBlink);

  // A short tone (synthesised) on an agent message while closed, if the page wants one.
  function ring() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume().catch(function () {});
      var t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.setValueAtTime(880, t);
      osc.frequency.setValueAtTime(660, t + 0.09);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.26);
    } catch (_) { /* no audio here: the badge and the title say it */ }
  }

  function setUnread(n) {
    var more = n > unread;
    unread = n;
    label();
    if (more && !open) {
      blink();
      if (sound) ring();
    }
    if (n === 0) stopBlink();
    emit("unread", n);
  }

  // The chat's context: the page's address (no fragment) and the website's attributes.
  function chars(s) {
    return Array.from(s).length;
  }
  var FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  function context() {
    var url = location.href.split("#")[0];
    var ctx = { attributes: Object.assign({}, attributes) };
    if (/^https?:/i.test(url) && !/\s/.test(url)) ctx.page_url = Array.from(url).slice(0, MAX_URL).join("");
    return ctx;
  }
  function postContext() {
    if (frame && ready) {
      frame.contentWindow.postMessage({ interact: 1, type: "context", value: context() }, server);
    }
  }
  function setAttributes(values) {
    if (!values || typeof values !== "object") return warn("setAttributes takes an object");
    Object.keys(values).forEach(function (key) {
      var value = values[key];
      if (value == null) delete attributes[key];
      else if (!key.trim() || chars(key) > MAX_KEY || FORBIDDEN.test(key) ||
          typeof value !== "string" || chars(value) > MAX_VALUE || FORBIDDEN.test(value) ||
          (!(key in attributes) && Object.keys(attributes).length >= MAX_ATTRIBUTES)) {
        warn("attribute " + JSON.stringify(key) + " refused: at most " + MAX_ATTRIBUTES +
          ", keys of 1 to " + MAX_KEY + " characters, string values of at most " + MAX_VALUE +
          ", no control characters");
      } else attributes[key] = value;
    });
    postContext();
  }

  // Who the website says the visitor is (its server computed `hash`); posted to the frame
  // when it is ready and on each identify(). Checked there and by the server; only the
  // shape is checked here. Nothing is stored.
  function postIdentity() {
    if (frame && ready && identity) {
      frame.contentWindow.postMessage({ interact: 1, type: "identify", value: identity }, server);
    }
  }
  function identify(who) {
    if (!who || typeof who !== "object" || typeof who.id !== "string" ||
        typeof who.hash !== "string" || !/^[0-9a-fA-F]{64}$/.test(who.hash) ||
        !who.id.trim() || chars(who.id) > MAX_ID || FORBIDDEN.test(who.id)) {
      return warn("identify takes {id, hash, name?, email?}: an id of 1 to " + MAX_ID +
        " characters and its HMAC-SHA256 as 64 hex digits");
    }
    identity = { id: who.id, hash: who.hash };
    if (typeof who.name === "string") identity.name = who.name.slice(0, 80);
    if (typeof who.email === "string") identity.email = who.email.slice(0, 254);
    postIdentity();
  }

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
    if (!mounted) return later.push(function () { setOpen(value); });
    if (refused) {
      if (value) showNote();
      return;
    }
    if (value === open) return;
    open = value;
    if (!frame) createFrame();
    css(frame, { display: value ? "block" : "none" });
    place();
    button.setAttribute("aria-expanded", String(value));
    label();
    if (value) {
      stopBlink();
      postContext();
    }
    post(value ? "open" : "hidden");
    if (value) frame.focus(); else button.focus();
    emit(value ? "opened" : "closed");
  }
  function setSession(value, resumed) {
    if (value === session) return;
    session = value;
    emit(value ? "session-started" : "session-ended", value ? { resumed: resumed } : undefined);
  }
  button.addEventListener("click", function () {
    if (refused) showNote(); else setOpen(!open);
  });
  window.addEventListener("resize", place);
  window.addEventListener("message", function (e) {
    if (e.origin !== server || !frame || e.source !== frame.contentWindow) return;
    var m = e.data;
    if (!m || m.interact !== 1) return;
    if (m.type === "ready") {
      ready = true;
      postContext();
      postIdentity();
      post(open ? "open" : "hidden");
      if (m.value === true) setSession(true, true);
    } else if (m.type === "close") {
      setOpen(false);
    } else if (m.type === "unread") {
      var n = Math.max(0, Math.floor(Number(m.value) || 0));
      if (n !== unread) setUnread(n);
    } else if (m.type === "session") {
      try {
        if (m.value) sessionStorage.setItem(flag, "1"); else sessionStorage.removeItem(flag);
      } catch (_) { /* storage blocked: the chat still works, it will not reopen */ }
      setSession(!!m.value, false);
    }
  });

  function mount() {
    document.body.appendChild(button);
    mounted = true;
    mark("launcher-shown");
    var again = false;
    try { again = sessionStorage.getItem(flag) === "1"; } catch (_) {}
    if (again) setOpen(true);
    var jobs = later;
    later = [];
    jobs.forEach(function (job) { job(); });
  }

  // window.Interact: the README's stub may have made it and queued calls in `q`; the same
  // object gets the methods, so references to it keep working.
  var api = window.Interact;
  if (!api || (typeof api !== "object" && typeof api !== "function")) api = window.Interact = {};
  var queued = Array.isArray(api.q) ? api.q : [];
  api.open = function () { setOpen(true); };
  api.close = function () { setOpen(false); };
  api.toggle = function () {
    if (!mounted) return later.push(api.toggle);
    setOpen(!open);
  };
  api.on = function (name, fn) {
    if (EVENTS.indexOf(name) < 0 || typeof fn !== "function") {
      warn("no event " + name + "; the events are " + EVENTS);
      return function () {};
    }
    (listeners[name] = listeners[name] || []).push(fn);
    return function () { api.off(name, fn); };
  };
  api.off = function (name, fn) {
    var fns = listeners[name] || [];
    var i = fns.indexOf(fn);
    if (i >= 0) fns.splice(i, 1);
  };
  api.setAttributes = setAttributes;
  api.identify = identify;
  api.setSound = function (on) { sound = !!on; };
  api.isOpen = function () { return open; };
  api.unread = function () { return open ? 0 : unread; };
  delete api.q;
  queued.forEach(function (call) {
    var name = call && call[0], fn = api[name];
    if (typeof fn === "function") fn.apply(api, call[1] || []);
    else warn("unknown method " + JSON.stringify(String(name)));
  });

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
      if (frame) { frame.remove(); frame = null; }
      if (open) { open = false; emit("closed"); }
      // Clearly inactive: grey, faded, and named so.
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-disabled", "true");
      button.title = words.refused;
      css(button, { background: "#8a8f98", opacity: "0.6", cursor: "not-allowed",
        "box-shadow": "none", display: "flex" });
      label();
      warn("the widget is disabled on " + host + " (" + refused +
        "). Check the embed code and its Domain Template on the Preview page.");
    });
})();
