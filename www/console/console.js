// Interact agent console: the page. It owns the DOM, sessionStorage and the calls' media;
// the SDK's own agent machine, compiled to WebAssembly (./pkg, built by `cargo xtask
// widget`), owns the protocol: the WebSocket, the clock, frames, the link, delivery,
// receipts and call signalling. The page hands the machine the agent's intents and
// renders what it reports (kept per session by model.js).
//
// Everything a visitor typed (names, emails, messages) reaches the page through
// textContent only: never innerHTML, never an attribute.

import init, { AgentConsole } from "./pkg/interact_console.js";
import { AgentCall, listDevices, savedDevices } from "./call.js";
import { ConsoleModel } from "./model.js";
import { alertFor, setupAlerts, showAlerts } from "./alerts.js";
import { attachNotes, loadNotes, setNotesToken } from "./notes.js";
import { renderOffline, startOffline, stopOffline } from "./offline.js";
import { setupReplies } from "./replies.js";
import { loadAnswers, renderAnswers, setAnswersToken } from "./answers.js";
import { fmtDateTime, fmtNumber, fmtWhen, has, onLangChange, setupI18n, t, tn } from "./i18n.js";

const TOKEN_KEY = "interact.console.token";
const AGENT_KEY = "interact.console.agent";
const PRESENCE_KEY = "interact.console.presence";
const SESSIONS_KEY = "interact.console.sessions";

const PRESENCES = ["available", "busy", "away", "offline"];

const $ = (id) => document.getElementById(id);
/** The machine's clock: the link's `at` is on it. */
const now = () => performance.now();

// ---------------------------------------------------------------------------------------
// Small helpers

const store = {
  get(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      sessionStorage.setItem(key, value);
    } catch {
      // Storage unavailable (private mode quotas): the console still works for this page.
    }
  },
  remove(key) {
    try {
      sessionStorage.removeItem(key);
    } catch {
      // ignore
    }
  },
};

/** Runs an intent on the machine; its refusal (offline, ended session) is returned, not thrown. */
function attempt(intent) {
  if (!client) return new Error("signed out");
  try {
    intent(client);
    return null;
  } catch (e) {
    return e;
  }
}

/** Creates an element with a class and, optionally, text (always as a text node). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function setText(node, text) {
  const value = text ?? "";
  if (node.textContent !== value) node.textContent = value;
}

let uid = 0;
const nextDomId = (prefix) => `${prefix}-${++uid}`;

function timeNode(at) {
  const node = el("time", "stamp", fmtWhen(at));
  node.dateTime = new Date(at).toISOString();
  node.title = fmtDateTime(new Date(at));
  return node;
}

// ---------------------------------------------------------------------------------------
// Texts: keys of i18n.js by what the server or the machine reports.

/** `<prefix>.<code>` if the dictionaries have it, else `<prefix>.<fallback>` (or null). */
function textOf(prefix, code, fallback = "other", params) {
  const key = `${prefix}.${code}`;
  if (has(key)) return t(key, params);
  return fallback ? t(`${prefix}.${fallback}`, params) : null;
}

// ---------------------------------------------------------------------------------------
// Application state (the protocol state lives in the machine, `client`)

/** @type {AgentConsole | null} */
let client = null;
/** @type {ConsoleModel | null} */
let model = null;
let ticker = null;
let renderQueued = false;
/** The session shown, or null. */
let active = null;
/** Session -> view (DOM nodes and what has been rendered). */
const views = new Map();
const offerNodes = new Map();
const chatNodes = new Map();
let persisted = "";
/** Session -> the AgentCall of its current call, once the agent accepted it here. */
const calls = new Map();
/** Sessions whose call the agent is accepting (devices being opened). */
const accepting = new Set();
/** Call ids this console hung up on because it had no media for them. */
const orphaned = new Set();

// ---------------------------------------------------------------------------------------
// What the machine reports

/** Takes one event of the machine: into the model, to the call it concerns; renders soon. */
function onEvent(e) {
  if (!model) return;
  alertFor(e, (session) => {
    if (model?.sessions.has(session)) selectSession(session);
  });
  for (const n of model.apply(e)) showNotice(n);
  if (e.type === "call" && e.event !== "incoming") {
    const live = calls.get(e.session);
    if (live && live.id === e.call) {
      if (e.event === "ended") closeCall(e.session);
      else live.handle(e);
    }
  } else if (e.type === "ice_servers") {
    for (const call of calls.values()) call.setIceServers(e.servers);
  }
  queueRender();
}

/** Renders once the events being delivered are in (a replay brings many at once). */
function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    update();
  });
}

/** After events or intents: what they call for, then the page. */
function update() {
  if (!client || !model) return;
  // Signed out by the server: back to the sign-in form.
  const link = model.link;
  if (link.state === "closed" && (link.code === 4001 || model.unauthorized)) {
    signOutLocally(t("signin.expired"));
    return;
  }
  syncCalls();
  // The agent sees the active session: clear its unread count, send a read receipt.
  const conv = active ? model.sessions.get(active) : null;
  if (conv && document.visibilityState === "visible") {
    conv.unread = 0;
    if (model.online && conv.writable) attempt((c) => c.markRead(active));
  }
  render();
}

// ---------------------------------------------------------------------------------------
// Calls (protocol §10)

/** Ends the media of calls that are over, and hangs up calls this page has no media for. */
function syncCalls() {
  for (const [session, call] of calls) {
    const conv = model.sessions.get(session);
    if (!conv || !conv.call || conv.call.id !== call.id) closeCall(session);
  }
  if (!model.online) return;
  for (const [session, conv] of model.sessions) {
    if (!conv.call || conv.left || calls.has(session) || accepting.has(session)) continue;
    if (orphaned.has(conv.call.id)) continue;
    const state = client.callState(session);
    if (state.state === "negotiating" || state.state === "active") {
      // Accepted before this page was loaded: its media went with the old page.
      orphaned.add(conv.call.id);
      attempt((c) => c.hangup(session, "failed"));
    }
  }
}

function closeCall(session) {
  const call = calls.get(session);
  if (!call) return;
  call.close();
  calls.delete(session);
  const view = views.get(session);
  if (view) {
    for (const v of [view.callRemote, view.callScreen, view.callLocal]) v.srcObject = null;
    // The next call starts from "Connecting…", not from this one's last status.
    setText(view.callStatus, "");
    view.callQuality.hidden = true;
  }
}

async function acceptCall(session) {
  const conv = model?.sessions.get(session);
  if (!conv || !conv.call || accepting.has(session) || calls.has(session)) return;
  const view = views.get(session);
  accepting.add(session);
  const call = new AgentCall({
    id: conv.call.id,
    media: conv.call.media,
    iceServers: model.iceServers,
    send: {
      answer: (sdp) => attempt((c) => c.localAnswer(session, sdp)),
      candidate: (candidate) => attempt((c) => c.localCandidate(session, candidate)),
      media: (state) => attempt((c) => c.setMedia(session, state)),
      deviceChanged: (kind) => attempt((c) => c.deviceChanged(session, kind)),
      stats: (reading) => {
        try {
          return client ? client.callStats(session, reading) : null;
        } catch {
          return null; // The call is over.
        }
      },
    },
    onChange: () => render(),
    onFailed: (why) => {
      if (!client) return;
      console.warn("interact: call failed:", why);
      attempt((c) => c.hangup(session, "failed"));
      closeCall(session);
      queueRender();
    },
  });
  try {
    await call.open();
  } catch (e) {
    accepting.delete(session);
    call.close();
    const why = e && e.name ? e.name : "error";
    if (view) {
      view.callUnavailable = true;
      setText(view.callText, t(conv.call.media === "video" ? "call.no_mic_cam" : "call.no_mic", { why }));
    }
    return;
  }
  accepting.delete(session);
  const still = model?.sessions.get(session);
  if (!still || !still.call || still.call.id !== call.id) {
    call.close();
    return;
  }
  calls.set(session, call);
  if (attempt((c) => c.acceptCall(session))) {
    closeCall(session);
  } else {
    call.startStats();
    fillDevices(session).catch(() => {});
  }
  queueRender();
}

// A headset plugged in or out during a call: the device lists follow.
navigator.mediaDevices?.addEventListener("devicechange", () => {
  for (const session of calls.keys()) fillDevices(session).catch(() => {});
});

async function fillDevices(session) {
  const view = views.get(session);
  const call = calls.get(session);
  if (!view || !call) return;
  const devices = await listDevices();
  const chosen = { ...savedDevices(), ...call.devices };
  const fill = (select, list, kind) => {
    select.replaceChildren();
    list.forEach((d, i) => {
      const o = document.createElement("option");
      o.value = d.id;
      o.textContent = d.label || t(`call.device_${kind}`, { n: i + 1 });
      o.selected = d.id === chosen[kind];
      select.append(o);
    });
    select.closest("label").hidden = list.length === 0;
  };
  fill(view.callMic, devices.audioinput, "audioinput");
  fill(view.callCam, call.media === "video" ? devices.videoinput : [], "videoinput");
  fill(view.callSpeaker, typeof HTMLMediaElement.prototype.setSinkId === "function" ? devices.audiooutput : [], "audiooutput");
}

function renderCall(view, conv, online) {
  const call = calls.get(view.session);
  const ringing = conv.call && !call;
  // Call-first: the agent answered the ring when accepting the offer.
  if (ringing && conv.autoAnswer === conv.call.id && !accepting.has(view.session)) {
    conv.autoAnswer = null;
    acceptCall(view.session);
  }
  view.callBanner.hidden = !ringing;
  if (ringing) {
    if (!accepting.has(view.session) && !view.callUnavailable) {
      setText(view.callText, t(conv.call.media === "video" ? "call.asking_video" : "call.asking_audio"));
    }
    view.callAccept.disabled = !online || accepting.has(view.session);
    view.callDecline.disabled = !online;
  } else {
    view.callUnavailable = false;
    setText(view.callText, "");
  }
  view.callPanel.hidden = !call;
  if (!call) return;
  if (view.callRemote.srcObject !== call.remote) view.callRemote.srcObject = call.remote;
  if (view.callLocal.srcObject !== call.local) view.callLocal.srcObject = call.local;
  const screen = call.screen && conv.call?.remote?.screen !== false ? call.screen : null;
  if (view.callScreen.srcObject !== screen) view.callScreen.srcObject = screen;
  view.callScreen.hidden = !screen;
  view.callLocal.hidden = call.media !== "video";
  const remote = conv.call?.remote;
  const state = call.pc.connectionState;
  const parts = [
    t(call.reconnecting ? "call.reconnecting" : state === "connected" ? "call.connected" : "call.connecting"),
  ];
  if (remote?.muted) parts.push(t("call.visitor_muted"));
  if (screen) parts.push(t("call.visitor_screen"));
  setText(view.callStatus, parts.join(" · "));
  view.callMute.setAttribute("aria-pressed", String(call.muted));
  setText(view.callMute, t(call.muted ? "call.unmute" : "call.mute"));
  view.callCamera.hidden = call.media !== "video";
  view.callCamera.setAttribute("aria-pressed", String(!call.cameraOn));
  setText(view.callCamera, t(call.cameraOn ? "call.camera_off" : "call.camera_on"));
  view.callHangup.disabled = !online;
  view.callPanel.dataset.iceRestarts = String(call.iceRestarts);
  renderQuality(view, call.quality);
}

/**
 * The call's quality (`CallQuality`) as three bars and words, with the figures behind
 * the rating in the title and, for screen readers, in the text.
 */
function renderQuality(view, q) {
  const rating = q?.rating ?? null;
  view.callQuality.hidden = !rating;
  if (!rating) return;
  const figures = [];
  if (q.rtt_ms != null) figures.push(t("quality.rtt", { n: fmtNumber(q.rtt_ms) }));
  if (q.loss_permille != null) figures.push(t("quality.loss", { n: fmtNumber(q.loss_permille / 10, 1) }));
  if (q.jitter_ms != null) figures.push(t("quality.jitter", { n: fmtNumber(q.jitter_ms) }));
  if (q.bitrate_kbps != null) figures.push(t("quality.bitrate", { n: fmtNumber(q.bitrate_kbps) }));
  if (q.width_px != null && q.height_px != null) figures.push(t("quality.video", { w: q.width_px, h: q.height_px }));
  const details = figures.join(", ");
  view.callQuality.dataset.rating = rating;
  if (view.callQuality.title !== details) view.callQuality.title = details;
  setText(view.callQualityText, textOf("quality", rating, null) ?? "");
  setText(view.callQualityDetails, details ? `: ${details}` : "");
}

// ---------------------------------------------------------------------------------------
// Sign-in and sign-out

function showSignIn(message, isError) {
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  const err = $("signin-error");
  err.textContent = message ?? "";
  err.classList.toggle("form-info", Boolean(message) && !isError);
  document.title = t("app.signin_title");
  const user = $("signin-username");
  (user.value ? $("signin-password") : user).focus();
}

function parseAgent(value) {
  if (!value || typeof value !== "object") return null;
  if (typeof value.id !== "string" || typeof value.display_name !== "string") return null;
  return { id: value.id, display_name: value.display_name };
}

async function onSignIn(event) {
  event.preventDefault();
  const form = $("signin-form");
  const user = $("signin-username");
  const pass = $("signin-password");
  const err = $("signin-error");
  err.classList.remove("form-info");
  const username = user.value.trim();
  const password = pass.value;
  if (!username || !password) {
    err.textContent = t("signin.missing");
    (username ? pass : user).focus();
    return;
  }
  err.textContent = "";
  form.setAttribute("aria-busy", "true");
  $("signin-submit").disabled = true;
  try {
    const res = await fetch("/v1/agent/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, password }),
      cache: "no-store",
      credentials: "same-origin",
    });
    if (res.status === 401) {
      err.textContent = t("signin.wrong");
      pass.select();
      pass.focus();
      return;
    }
    if (res.status === 429) {
      err.textContent = t("signin.rate_limited");
      return;
    }
    if (!res.ok) {
      err.textContent = t("signin.http", { status: res.status });
      return;
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    const token = body && typeof body.token === "string" && body.token.length > 0 ? body.token : null;
    if (!token) {
      err.textContent = t("signin.unexpected");
      return;
    }
    const agent = parseAgent(body.agent);
    pass.value = "";
    store.set(TOKEN_KEY, token);
    if (agent) store.set(AGENT_KEY, JSON.stringify(agent));
    store.remove(SESSIONS_KEY);
    startConsole(token, agent);
  } catch {
    err.textContent = t("signin.unreachable");
  } finally {
    form.removeAttribute("aria-busy");
    $("signin-submit").disabled = false;
  }
}

function openChats() {
  let n = 0;
  if (model) for (const c of model.sessions.values()) if (!c.ended && !c.left && !c.restored) n++;
  return n;
}

async function onSignOut() {
  if (!client) return;
  const open = openChats();
  if (open > 0 && !window.confirm(tn("top.signout_confirm", open))) {
    return;
  }
  const token = store.get(TOKEN_KEY);
  stopConsole();
  clearStoredSession();
  showSignIn(t("signin.signed_out"), false);
  if (!token) return;
  try {
    await fetch("/v1/agent/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
      credentials: "same-origin",
      keepalive: true,
    });
  } catch {
    // The token is gone from this page either way.
  }
}

function signOutLocally(message) {
  stopConsole();
  clearStoredSession();
  showSignIn(message, true);
}

function clearStoredSession() {
  store.remove(TOKEN_KEY);
  store.remove(AGENT_KEY);
  store.remove(SESSIONS_KEY);
  store.remove(PRESENCE_KEY);
  persisted = "";
}

/** The sessions listed before a reload (this tab's sessionStorage), in their order. */
function storedSessions() {
  try {
    const saved = JSON.parse(store.get(SESSIONS_KEY) ?? "[]");
    return Array.isArray(saved) ? saved.filter((s) => typeof s === "string") : [];
  } catch {
    return [];
  }
}

function startConsole(token, agent) {
  stopConsole();
  const stored = store.get(PRESENCE_KEY);
  const presence = PRESENCES.includes(stored) ? stored : "available";
  try {
    client = new AgentConsole({ token, presence });
  } catch (e) {
    console.warn("interact: cannot start the console", e);
    signOutLocally(t("signin.cannot_start"));
    return;
  }
  model = new ConsoleModel({ me: agent, presence, restore: storedSessions() });
  client.onEvent(onEvent);
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  ticker = setInterval(() => {
    if (client) render();
  }, 1000);
  client.connect();
  startOffline(token);
  setNotesToken(token);
  setAnswersToken(token);
  render();
}

function stopConsole() {
  stopOffline();
  setNotesToken(null);
  setAnswersToken(null);
  clearInterval(ticker);
  ticker = null;
  for (const session of [...calls.keys()]) closeCall(session);
  accepting.clear();
  if (client) {
    client.close();
    client.free();
  }
  client = null;
  model = null;
  active = null;
  for (const v of views.values()) v.root.remove();
  views.clear();
  for (const n of offerNodes.values()) n.root.remove();
  offerNodes.clear();
  for (const n of chatNodes.values()) n.root.remove();
  chatNodes.clear();
  $("notices").replaceChildren();
}

// ---------------------------------------------------------------------------------------
// Notices (toasts)

function showNotice(n) {
  let text = null;
  if (n.kind === "accept_refused") {
    text = t("notice.accept_refused");
  } else if (n.kind === "transfer_refused") {
    text = t("notice.transfer_refused", { message: n.message });
  } else if (n.kind === "error") {
    console.warn(`interact: server error ${n.code}: ${n.message}`);
    if (n.code === "unauthorized") return; // handled by the close that follows
    // A refusal the server explains (a WhatsApp reply outside the 24-hour window) is
    // shown in its words, as text.
    if (n.refused && n.code === "not_allowed" && n.message) text = n.message;
    else if (n.refused) text = t("notice.message_refused");
    else text = textOf("error", n.code, "other", { code: n.code });
  }
  if (!text) return;
  const box = $("notices");
  const note = el("div", "notice");
  note.append(el("p", "notice-text", text));
  const close = el("button", "btn btn-small notice-close", t("notice.dismiss"));
  close.type = "button";
  close.addEventListener("click", () => note.remove());
  note.append(close);
  box.append(note);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => note.remove(), 8000);
}

// ---------------------------------------------------------------------------------------
// Rendering

function render() {
  if (!client || !model) return;
  renderConnection();
  renderPresence();
  renderOffers();
  renderChats();
  renderSessions();
  renderTitle();
  persist();
}

function renderConnection() {
  const link = model.link;
  const box = $("conn");
  const retry = $("conn-retry");
  let state = link.state;
  let text;
  switch (link.state) {
    case "online":
      text = t("conn.online");
      break;
    case "connecting":
      text = t(model.lost ? "conn.reconnecting" : "conn.connecting");
      break;
    case "reconnecting": {
      const secs = Math.max(0, Math.ceil((link.at - now()) / 1000));
      text = secs > 0 ? t("conn.retrying_in", { secs }) : t("conn.retrying");
      break;
    }
    default:
      state = "closed";
      text = t("conn.disconnected", { why: textOf("close", link.code) });
  }
  if (box.dataset.state !== state) box.dataset.state = state;
  setText($("conn-text"), text);
  retry.hidden = !(link.state === "reconnecting" || link.state === "closed");
  setText(retry, t(link.state === "closed" ? "conn.reconnect" : "conn.retry"));
  setText($("me-name"), model.me?.display_name ?? "");
}

function renderPresence() {
  const select = $("presence-select");
  if (select.value !== model.wantedPresence) select.value = model.wantedPresence;
  const shown = model.online ? (model.presence ?? model.wantedPresence) : "offline";
  const wrap = select.closest(".presence");
  if (wrap.dataset.presence !== shown) wrap.dataset.presence = shown;
  const pending = model.online && model.presence !== model.wantedPresence;
  wrap.classList.toggle("is-pending", pending);
}

function renderOffers() {
  const list = $("offers");
  const online = model.online;
  let focusLost = false;
  for (const [session, node] of offerNodes) {
    if (!model.offers.has(session)) {
      if (node.root.contains(document.activeElement)) focusLost = true;
      node.root.remove();
      offerNodes.delete(session);
    }
  }
  let i = 0;
  for (const [session, offer] of model.offers) {
    let node = offerNodes.get(session);
    if (!node) {
      node = createOfferNode(session, offer);
      offerNodes.set(session, node);
    }
    if (list.children[i] !== node.root) list.insertBefore(node.root, list.children[i] ?? null);
    i++;
    node.accept.disabled = !online;
    node.decline.disabled = !online;
    const left = Math.ceil((offer.expires_at - Date.now()) / 1000);
    let expiry;
    if (left <= 0) expiry = t("offer.expiring");
    else if (left < 120) expiry = t("offer.secs_left", { n: left });
    else expiry = t("offer.mins_left", { n: Math.ceil(left / 60) });
    setText(node.expiry, expiry);
    node.root.classList.toggle("is-urgent", left <= 10);
  }
  const count = model.offers.size;
  $("offers-empty").hidden = count > 0;
  const badge = $("offers-count");
  badge.hidden = count === 0;
  setText(badge, String(count));
  if (focusLost) {
    const first = offerNodes.values().next().value;
    if (first && !first.accept.disabled) first.accept.focus();
    else $("offers-heading").focus();
  }
}

function createOfferNode(session, offer) {
  const root = el("li", "offer");
  const head = el("div", "offer-head");
  const name = el("span", "offer-name", offer.visitor.display_name);
  name.id = nextDomId("offer-name");
  const expiry = el("span", "offer-expiry");
  head.append(name, expiry);
  const contact = el("div", "offer-email", contactOf(offer.visitor));
  if (offer.visitor.channel === "whatsapp") contact.prepend(channelBadge(offer.visitor.channel));
  const target = el("div", "offer-target", t("offer.via", { target: offer.target.display_name }));
  root.append(head, contact, target);
  if (offer.call) {
    // Call-first: the offer rings; accepting it answers the call the visitor places.
    root.classList.add("offer-call");
    root.append(el("p", "offer-ring", t(offer.call === "video" ? "offer.video_call" : "offer.audio_call")));
  }
  if (offer.first_message) {
    root.append(el("p", "offer-message", offer.first_message));
  } else {
    root.append(el("p", "offer-message is-empty", t("offer.no_first")));
  }
  const actions = el("div", "offer-actions");
  const decline = el("button", "btn btn-small offer-decline", t("offer.decline"));
  const accept = el("button", "btn btn-small btn-primary offer-accept", t("offer.accept"));
  decline.type = "button";
  accept.type = "button";
  decline.id = nextDomId("offer-decline");
  accept.id = nextDomId("offer-accept");
  // Accessible names "Accept <visitor>" without putting visitor text in an attribute.
  decline.setAttribute("aria-labelledby", `${decline.id} ${name.id}`);
  accept.setAttribute("aria-labelledby", `${accept.id} ${name.id}`);
  decline.addEventListener("click", () => {
    if (attempt((c) => c.decline(session)) === null) model?.offers.delete(session);
    render();
  });
  accept.addEventListener("click", () => {
    if (attempt((c) => c.accept(session)) === null) {
      const offer = model.offers.get(session);
      model.offers.delete(session);
      const conv = model.conv(session);
      if (!conv.offer && offer) Object.assign(conv, { offer, visitor: { ...offer.visitor }, target: { ...offer.target } });
      active = session;
      update();
      views.get(session)?.input.focus();
    } else {
      render();
    }
  });
  actions.append(decline, accept);
  root.append(actions);
  return { root, accept, decline, expiry };
}

/**
 * The page the chat started on and the website's attributes (`Interact.setAttributes` on
 * the host page): the website's text, so shown as text only, never as markup or a link.
 */
function renderContext(view, context) {
  if (view.contextShown === context) return;
  view.contextShown = context;
  setText(view.details.page, context?.page_url || "—");
  const list = view.details.attributes;
  list.replaceChildren();
  for (const [key, value] of Object.entries(context?.attributes ?? {})) {
    const row = el("div", "details-attribute");
    row.append(el("dt", null, key), el("dd", null, value));
    list.append(row);
  }
  list.hidden = list.childElementCount === 0;
}

/** How to reach the visitor: the phone number on WhatsApp, else the email. */
function contactOf(visitor) {
  if (!visitor) return "";
  return visitor.channel === "whatsapp" ? visitor.phone ?? "" : visitor.email ?? "";
}

const CHANNEL_NAMES = { whatsapp: "WhatsApp" };

/** A small badge naming the visitor's channel, with its icon (built as DOM, no markup). */
function channelBadge(channel) {
  const badge = el("span", `channel-badge channel-${channel}`);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const bubble = document.createElementNS(ns, "path");
  // A speech bubble with its tail at the bottom left, and a handset inside.
  bubble.setAttribute("d", "M12 2.5a9.5 9.5 0 0 0-8.2 14.3L2.5 21.5l4.8-1.3A9.5 9.5 0 1 0 12 2.5z");
  bubble.setAttribute("class", "channel-icon-bubble");
  const phone = document.createElementNS(ns, "path");
  phone.setAttribute("d", "M9.1 7.2c.3 0 .5 0 .7.5l.8 1.9c.1.2 0 .4-.1.6l-.6.7c-.1.2-.2.3 0 .6.7 1.2 1.7 2.1 2.9 2.7.3.1.4.1.6-.1l.8-.9c.2-.2.3-.2.6-.1l1.8.9c.3.1.4.2.4.4 0 .6-.3 1.4-1 1.8-.7.4-1.6.5-3.3-.2-2-.8-3.5-2.6-4.2-3.8-.6-1.1-.7-2.1-.2-3 .3-.6.6-.9.8-1z");
  phone.setAttribute("class", "channel-icon-phone");
  svg.append(bubble, phone);
  badge.append(svg, el("span", "channel-name", CHANNEL_NAMES[channel] ?? channel));
  return badge;
}

function visitorName(conv) {
  return conv.visitor?.display_name || t("chat.visitor");
}

function lastMessage(conv) {
  for (let i = conv.items.length - 1; i >= 0; i--) {
    const item = conv.items[i];
    if (item.type === "message") return item;
  }
  return null;
}

function chatPreview(conv) {
  if (conv.ended) {
    if (conv.endReason === "agent_ended" && conv.endRequested) return t("chat.you_ended");
    return textOf("end", conv.endReason);
  }
  if (conv.left && conv.transferredTo) return t("chat.transferred_to", { name: conv.transferredTo });
  if (conv.left) return t("chat.you_left");
  if (conv.typing) return t("chat.typing");
  if (conv.local.length > 0) return t("chat.you_said", { text: conv.local[conv.local.length - 1].text });
  const last = lastMessage(conv);
  if (last) return last.mine ? t("chat.you_said", { text: last.text }) : last.text;
  if (conv.offer?.first_message) return conv.offer.first_message;
  return t(conv.last === 0 ? "chat.joining" : "chat.no_messages");
}

function renderChats() {
  const list = $("chats");
  for (const [session, node] of chatNodes) {
    if (!model.sessions.has(session)) {
      node.root.remove();
      chatNodes.delete(session);
    }
  }
  let i = 0;
  for (const [session, conv] of model.sessions) {
    let node = chatNodes.get(session);
    if (!node) {
      node = createChatNode(session);
      chatNodes.set(session, node);
    }
    if (list.children[i] !== node.root) list.insertBefore(node.root, list.children[i] ?? null);
    i++;
    setText(node.name, visitorName(conv));
    // A WhatsApp chat is marked in the list too (the badge before the name).
    const channel = conv.visitor?.channel === "whatsapp" ? "whatsapp" : null;
    if (node.channel !== channel) {
      node.badge?.remove();
      node.badge = channel ? channelBadge(channel) : null;
      if (node.badge) {
        // The icon alone in the list; its name is for screen readers.
        node.badge.querySelector(".channel-name")?.classList.add("visually-hidden");
        node.name.before(node.badge);
      }
      node.channel = channel;
    }
    setText(node.preview, chatPreview(conv));
    const current = session === active;
    if (node.button.getAttribute("aria-current") !== String(current)) {
      node.button.setAttribute("aria-current", String(current));
    }
    node.root.classList.toggle("is-ended", conv.ended || conv.left);
    node.root.classList.toggle("is-typing", conv.typing);
    node.unread.hidden = conv.unread === 0 || current;
    setText(node.unreadCount, String(conv.unread));
    setText(node.unreadLabel, tn("side.unread", conv.unread));
  }
  $("chats-empty").hidden = model.sessions.size > 0;
}

function createChatNode(session) {
  const root = el("li", "chat-item");
  const button = el("button", "chat-tab");
  button.type = "button";
  const top = el("span", "chat-top");
  const name = el("span", "chat-name");
  const unread = el("span", "unread");
  const unreadCount = el("span", "unread-count");
  const unreadLabel = el("span", "visually-hidden");
  unread.append(unreadCount, unreadLabel);
  top.append(name, unread);
  const preview = el("span", "chat-preview");
  button.append(top, preview);
  button.addEventListener("click", () => selectSession(session));
  root.append(button);
  return { root, button, name, preview, unread, unreadCount, unreadLabel, channel: null, badge: null };
}

function selectSession(session) {
  active = session;
  update();
}

function renderSessions() {
  for (const [session, view] of views) {
    if (!model.sessions.has(session)) {
      view.root.remove();
      views.delete(session);
    }
  }
  if (active && !model.sessions.has(active)) active = null;
  for (const [session, conv] of model.sessions) {
    let view = views.get(session);
    if (!view) {
      view = createView(session);
      views.set(session, view);
    }
    updateView(view, conv);
  }
  $("no-session").hidden = active !== null;
}

function createView(session) {
  const tpl = /** @type {HTMLTemplateElement} */ ($("session-template"));
  const root = /** @type {HTMLElement} */ (tpl.content.firstElementChild.cloneNode(true));
  const q = (sel) => root.querySelector(sel);
  const view = {
    session,
    root,
    title: q(".session-title"),
    sub: q(".session-sub"),
    state: q(".session-state"),
    end: q(".session-end"),
    transfer: q(".session-transfer"),
    close: q(".session-close"),
    callBanner: q(".call-banner"),
    callText: q(".call-text"),
    callAccept: q(".call-accept"),
    callDecline: q(".call-decline"),
    callPanel: q(".call-panel"),
    callRemote: q(".call-remote"),
    callScreen: q(".call-screen"),
    callLocal: q(".call-local"),
    callStatus: q(".call-status"),
    callQuality: q(".call-quality"),
    callQualityText: q(".call-quality-text"),
    callQualityDetails: q(".call-quality-details"),
    callMute: q(".call-mute"),
    callCamera: q(".call-camera"),
    callHangup: q(".call-hangup"),
    callMic: q(".call-mic"),
    callCam: q(".call-cam"),
    callSpeaker: q(".call-speaker"),
    log: q(".log"),
    timeline: q(".timeline"),
    outbox: q(".outbox"),
    typing: q(".typing"),
    typingText: q(".typing-text"),
    form: q(".composer"),
    label: q(".composer-label"),
    input: q(".composer-input"),
    send: q(".composer-send"),
    error: q(".composer-error"),
    attach: q(".composer-attach"),
    file: q(".composer-file"),
    progress: q(".composer-progress"),
    details: {
      name: q(".d-name"),
      email: q(".d-email"),
      emailLabel: q(".d-email-label"),
      verified: q(".details-verified"),
      visitorId: q(".d-visitor-id"),
      target: q(".d-target"),
      consentVersion: q(".d-consent-version"),
      consentTime: q(".d-consent-time"),
      started: q(".d-started"),
      agents: q(".d-agents"),
      session: q(".d-session"),
      page: q(".d-page"),
      attributes: q(".d-attributes"),
    },
    // Nothing shown yet (a session without a context still shows "—").
    contextShown: undefined,
    /** The visitor's answers to the workflow's questions, by the seq of their message. */
    answers: new Map(),
    /** Answers being read (the latest request wins). */
    answersRequest: 0,
    rendered: 0,
    version: -1,
    ownStatus: new Map(),
    stick: true,
    visible: false,
  };
  const titleId = nextDomId("session-title");
  view.title.id = titleId;
  root.setAttribute("aria-labelledby", titleId);
  view.log.setAttribute("aria-labelledby", titleId);
  const inputId = nextDomId("composer");
  view.input.id = inputId;
  view.label.htmlFor = inputId;
  const errorId = nextDomId("composer-error");
  view.error.id = errorId;
  view.input.setAttribute("aria-describedby", errorId);

  view.end.addEventListener("click", () => {
    const conv = model?.sessions.get(session);
    if (!conv) return;
    if (!window.confirm(t("session.end_confirm", { name: visitorName(conv) }))) return;
    if (attempt((c) => c.end(session)) === null) conv.endRequested = true;
    render();
  });
  view.transfer.addEventListener("click", () => {
    openTransfer(session, view.transfer);
  });
  view.close.addEventListener("click", () => {
    if (!model) return;
    model.dismiss(session);
    attempt((c) => c.forget(session));
    if (active === session) {
      active = null;
      for (const [s, c] of model.sessions) {
        if (!c.ended) {
          active = s;
          break;
        }
      }
    }
    update();
    const next = active ? views.get(active) : null;
    if (next && !next.input.disabled) next.input.focus();
    else $("chats-heading").focus();
  });
  view.callDecline.addEventListener("click", () => {
    attempt((c) => c.hangup(session, "declined"));
    render();
  });
  view.callAccept.addEventListener("click", () => {
    acceptCall(session);
  });
  view.callHangup.addEventListener("click", () => {
    attempt((c) => c.hangup(session, "normal"));
    closeCall(session);
    render();
  });
  view.callMute.addEventListener("click", () => {
    const call = calls.get(session);
    if (call) call.setMuted(!call.muted);
  });
  view.callCamera.addEventListener("click", () => {
    const call = calls.get(session);
    if (call) call.setCamera(!call.cameraOn);
  });
  const switcher = (select, kind) =>
    select.addEventListener("change", () => {
      const call = calls.get(session);
      if (!call) return;
      if (kind === "audiooutput") {
        for (const el of [view.callRemote, view.callScreen]) el.setSinkId?.(select.value).catch(() => {});
      }
      call.switchDevice(kind, select.value).catch((e) => console.warn("interact: device switch failed", e));
    });
  switcher(view.callMic, "audioinput");
  switcher(view.callCam, "videoinput");
  switcher(view.callSpeaker, "audiooutput");
  view.form.addEventListener("submit", (e) => {
    e.preventDefault();
    sendFromComposer(view);
  });
  view.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendFromComposer(view);
    }
  });
  view.attach.addEventListener("click", () => view.file.click());
  view.file.addEventListener("change", () => {
    const file = view.file.files?.[0];
    view.file.value = "";
    if (file) uploadFile(view, session, file);
  });
  view.input.addEventListener("input", () => {
    setText(view.error, "");
    const conv = model?.sessions.get(session);
    if (conv?.writable && model.online) attempt((c) => c.setTyping(session, view.input.value.trim() !== ""));
  });
  // Keep a log that sits at the bottom there when the window or the details band resizes.
  new ResizeObserver(() => {
    if (view.visible && view.stick) view.log.scrollTop = view.log.scrollHeight;
  }).observe(view.log);
  view.log.addEventListener("scroll", () => {
    if (!view.visible) return;
    const { scrollTop, scrollHeight, clientHeight } = view.log;
    view.stick = scrollHeight - scrollTop - clientHeight < 48;
  });
  $("sessions").append(root);
  attachNotes(root, session);
  return view;
}

// ---------------------------------------------------------------------------------------
// Transfer: a dialog listing the services and people the session may go to.

/** The session the transfer dialog is open for, and the button to give focus back to. */
let transferring = null;

async function openTransfer(session, opener) {
  const conv = model?.sessions.get(session);
  if (!conv || !conv.writable) return;
  transferring = { session, opener };
  const dialog = /** @type {HTMLDialogElement} */ ($("transfer-dialog"));
  const inCall = conv.call != null || conv.transcriptCall != null;
  // Call-first: the visitor calls the next agent, so the call goes on with them.
  const callGoesOn = inCall && conv.callFirst != null;
  setText($("transfer-title"), t(callGoesOn ? "transfer.title_call" : "transfer.title_chat", { name: visitorName(conv) }));
  setText(
    $("transfer-note"),
    t(callGoesOn ? "transfer.call_goes_on" : inCall ? "transfer.call_ends" : "transfer.note"),
  );
  setText($("transfer-error"), "");
  const services = $("transfer-services-list");
  const users = $("transfer-users-list");
  services.replaceChildren(el("li", "transfer-loading", t("transfer.loading")));
  users.replaceChildren();
  $("transfer-users").hidden = inCall;
  $("transfer-confirm").disabled = true;
  if (!dialog.open) dialog.showModal();
  let targets;
  try {
    const res = await fetch("/v1/agent/transfer-targets", {
      headers: { Authorization: `Bearer ${store.get(TOKEN_KEY) ?? ""}` },
      cache: "no-store",
      credentials: "same-origin",
    });
    if (!res.ok) throw new Error(`status ${res.status}`);
    targets = await res.json();
  } catch (e) {
    console.warn("interact: cannot list transfer targets", e);
    services.replaceChildren();
    setText($("transfer-error"), t("transfer.load_failed"));
    return;
  }
  if (transferring?.session !== session) return;
  const option = (kind, target, detail) => {
    const li = el("li", "transfer-option");
    const label = el("label", "transfer-label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "transfer-target";
    input.value = `${kind}:${target.id}`;
    input.dataset.kind = kind;
    input.dataset.id = target.id;
    input.dataset.name = target.display_name;
    input.addEventListener("change", () => {
      $("transfer-confirm").disabled = false;
    });
    label.append(input, el("span", "transfer-name", target.display_name), el("span", "transfer-detail", detail));
    li.append(label);
    return li;
  };
  const here = conv.target;
  services.replaceChildren(
    ...(targets.services ?? [])
      .filter((s) => !(here?.kind === "service" && here.display_name === s.display_name))
      .map((s) => option("service", s, s.available > 0 ? t("transfer.available", { n: s.available }) : t("transfer.nobody"))),
  );
  if (services.childElementCount === 0) services.append(el("li", "transfer-loading", t("transfer.no_service")));
  users.replaceChildren(
    ...(inCall ? [] : targets.users ?? []).map((u) =>
      option("user", u, t(u.available ? "transfer.user_available" : "transfer.user_unavailable")),
    ),
  );
  const first = dialog.querySelector("input[name=transfer-target]");
  if (first) first.focus();
}

function closeTransfer() {
  const dialog = /** @type {HTMLDialogElement} */ ($("transfer-dialog"));
  if (dialog.open) dialog.close();
}

function onTransferClosed() {
  const opener = transferring?.opener;
  transferring = null;
  if (opener && !opener.hidden && opener.isConnected) opener.focus();
}

function confirmTransfer(event) {
  event.preventDefault();
  if (!transferring) return;
  const { session } = transferring;
  const picked = /** @type {HTMLInputElement | null} */ (
    $("transfer-dialog").querySelector("input[name=transfer-target]:checked")
  );
  if (!picked) return;
  const error = attempt((c) => c.transfer(session, picked.dataset.kind, picked.dataset.id));
  if (error) {
    setText($("transfer-error"), t("transfer.cannot"));
    return;
  }
  const conv = model?.sessions.get(session);
  if (conv) conv.transferPending = picked.dataset.name;
  closeTransfer();
  render();
}

function sendFromComposer(view) {
  if (!client) return;
  const session = view.session;
  const conv = model.sessions.get(session);
  const text = view.input.value;
  let id;
  try {
    if (!conv || !conv.writable) throw new Error("not writable");
    id = client.send(session, text);
  } catch (e) {
    if (e.name === "InvalidText") {
      if (e.code !== "required") {
        setText(view.error, textOf("composer", e.code, "cannot_send", { max: fmtNumber(e.max ?? 0) }));
      }
    } else {
      setText(view.error, t("composer.not_writable"));
    }
    return;
  }
  conv.sent(id, text.trim());
  view.input.value = "";
  setText(view.error, "");
  view.stick = true;
  render();
}

function updateView(view, conv) {
  const online = model.online;
  const name = visitorName(conv);
  const shown = view.session === active;
  const wasVisible = view.visible;
  view.root.hidden = !shown;
  view.visible = shown;

  // Header
  setText(view.title, name);
  const sub = [];
  const whatsapp = conv.visitor?.channel === "whatsapp";
  if (contactOf(conv.visitor)) sub.push(contactOf(conv.visitor));
  if (conv.target) sub.push(t("session.via", { target: conv.target.display_name }));
  // WhatsApp's badge (as in the offer) before the number; rebuilt only when it changes.
  const subText = sub.join(" · ");
  const subKey = `${whatsapp ? "whatsapp" : ""}|${subText}`;
  if (view.subKey !== subKey) {
    view.subKey = subKey;
    view.sub.replaceChildren(...(whatsapp ? [channelBadge("whatsapp")] : []), subText);
  }
  let state = "";
  if (conv.ended) state = t("session.ended");
  else if (conv.left && conv.transferredTo) state = t("chat.transferred_to", { name: conv.transferredTo });
  else if (conv.left) state = t("session.left");
  else if (conv.transferPending) state = t("session.transferring");
  else if (conv.endRequested) state = t("session.ending");
  else if (conv.last === 0) state = t("chat.joining");
  setText(view.state, state);
  view.state.hidden = state === "";
  view.state.dataset.kind = conv.ended || conv.left ? "ended" : "busy";
  // A session without events yet (accept in flight) cannot be ended, only closed.
  view.end.hidden = !conv.writable || conv.last === 0;
  view.end.disabled = !online || conv.endRequested;
  view.close.hidden = !(conv.ended || conv.left || conv.last === 0);
  view.transfer.hidden = !conv.writable || conv.last === 0;
  view.transfer.disabled = !online || conv.endRequested || conv.transferPending != null;

  // Call
  renderCall(view, conv, online);

  // Details
  const d = view.details;
  setText(d.name, conv.visitor?.display_name ?? "—");
  setText(d.emailLabel, whatsapp ? "WhatsApp" : t("details.email"));
  setText(d.email, contactOf(conv.visitor) || "—");
  // The website vouched for the visitor (identify with a valid hash): its id for them.
  const verified = conv.visitor?.verified_id;
  d.verified.hidden = !verified;
  setText(d.visitorId, verified ?? "");
  setText(
    d.target,
    conv.target
      ? t(conv.target.kind === "user" ? "details.direct" : "details.service", { name: conv.target.display_name })
      : "—",
  );
  // A WhatsApp customer agreed to no policy here: the version is empty.
  const consent = conv.consent?.policy_version ? conv.consent : null;
  setText(d.consentVersion, consent ? t("details.policy", { version: consent.policy_version }) : "—");
  setText(d.consentTime, consent ? t("details.given", { when: fmtDateTime(new Date(consent.at)) }) : "");
  setText(d.started, conv.startedAt != null ? fmtDateTime(new Date(conv.startedAt)) : "—");
  setText(d.agents, conv.agents.size > 0 ? [...conv.agents.values()].join(", ") : "—");
  setText(d.session, conv.session);
  renderContext(view, conv.context);

  // Transcript: append what is new; items are append-only.
  let appended = false;
  while (view.rendered < conv.items.length) {
    const item = conv.items[view.rendered];
    view.timeline.append(renderItem(view, conv, item));
    view.rendered++;
    appended = true;
    // The chat came to this agent (accepted, or back after a transfer): what the
    // visitor answered the workflow before, kept by the server.
    if (item.type === "agent_joined" && item.self) refreshAnswers(view);
  }
  if (view.version !== conv.version) {
    for (const [msgId, status] of view.ownStatus) setStatus(status, conv.stateOf(msgId));
    renderOutbox(view, conv);
    view.version = conv.version;
    appended = true;
  }

  // Typing
  const typing = conv.typing;
  view.typing.hidden = !typing;
  if (typing) setText(view.typingText, t("composer.typing", { name }));

  // Composer
  setText(view.label, t("composer.label_to", { name }));
  const writable = conv.writable;
  view.input.disabled = !writable;
  view.send.disabled = !writable;
  // Files: in widget chats only (WhatsApp carries none), one upload at a time.
  view.attach.hidden = conv.visitor?.channel === "whatsapp";
  view.attach.disabled = !writable || !view.progress.hidden;
  const placeholder = conv.ended
    ? t("composer.ended")
    : conv.left && conv.transferredTo
      ? t("composer.transferred_to", { name: conv.transferredTo })
      : conv.left
        ? t("composer.left")
        : t("composer.placeholder");
  if (view.input.placeholder !== placeholder) view.input.placeholder = placeholder;

  if (shown && view.stick && (appended || !wasVisible)) view.log.scrollTop = view.log.scrollHeight;
}

function setStatus(node, state) {
  if (!state) return;
  if (node.dataset.state !== state) node.dataset.state = state;
  setText(node, textOf("status", state, "failed"));
}

function systemText(conv, item) {
  switch (item.type) {
    case "started":
      return t("sys.started", { name: item.visitor.display_name, target: item.target.display_name });
    case "queued":
      return t("sys.queued", { position: item.position });
    case "agent_joined":
      return item.self ? t("sys.you_joined") : t("sys.joined", { who: item.agent.display_name });
    case "agent_left":
      return item.self ? t("sys.you_left") : t("sys.left", { who: item.agent.display_name });
    case "transferred":
      if (item.self) return t("sys.you_transferred", { to: item.to.display_name });
      return t("sys.transferred", { by: item.by ? item.by.display_name : t("sys.the_workflow"), to: item.to.display_name });
    case "call_start":
      return t(item.media === "video" ? "sys.call_video" : "sys.call_audio");
    case "call_end":
      if (item.by === "agent" && item.reason === "declined") return t("sys.call_declined");
      return t(item.by === "visitor" ? "sys.visitor_hung_up" : "sys.call_ended");
    case "undelivered":
      return t(item.from === "agent" ? "sys.undelivered_yours" : "sys.undelivered", { reason: item.reason });
    case "ended":
      if (item.reason === "agent_ended" && conv.endRequested) return t("chat.you_ended");
      return textOf("end", item.reason);
    default:
      return "";
  }
}

/** `1.2 MB`, `12 KB`, `512 B` (`1,2 MB` in German), as the widget and the transcript say it. */
function fileSize(bytes) {
  if (bytes < 1024) return `${fmtNumber(bytes)} B`;
  if (bytes < 1024 * 1024) return `${fmtNumber(Math.ceil(bytes / 1024))} KB`;
  return `${fmtNumber(Math.ceil((bytes * 10) / (1024 * 1024)) / 10, 1)} MB`;
}

/** The URL of file `id` of `session` (or, without an id, of the session's uploads). */
const fileUrl = (session, id) =>
  `/v1/sessions/${encodeURIComponent(session)}/attachments${id ? `/${encodeURIComponent(id)}` : ""}`;

/**
 * Sends `file` into `session` (protocol §2.6) with the agent's token, showing the upload's
 * progress; the server's refusal is shown under the composer. The file reaches the
 * transcript as its `attachment` event.
 */
function uploadFile(view, session, file) {
  const token = store.get(TOKEN_KEY);
  if (!token) return;
  setText(view.error, "");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `${fileUrl(session)}?name=${encodeURIComponent(file.name)}`);
  xhr.setRequestHeader("Authorization", `Bearer ${token}`);
  view.progress.value = 0;
  view.progress.hidden = false;
  view.attach.disabled = true;
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable && e.total > 0) view.progress.value = e.loaded / e.total;
  });
  xhr.addEventListener("loadend", () => {
    view.progress.hidden = true;
    render();
    if (xhr.status === 201) return;
    let code = null;
    try {
      code = JSON.parse(xhr.responseText)?.error?.code ?? null;
    } catch {
      // Not JSON: no answer (offline) or a proxy's page.
    }
    setText(view.error, textOf("file", code, "failed"));
  });
  xhr.send(file);
}

/** The transcript's file `item`: fetched with the agent's token into a `blob:` URL. */
function renderFile(conv, item, bubble) {
  const link = el("a", "file-link");
  link.download = item.name;
  const label = t("file.label", { name: item.name, size: fileSize(item.size) });
  if (item.mime.startsWith("image/")) {
    const img = el("img", "file-thumb");
    img.alt = label;
    link.append(img);
  } else {
    link.append(el("span", "file-name", label));
  }
  bubble.append(link);
  const token = store.get(TOKEN_KEY);
  if (!token) return;
  fetch(fileUrl(conv.session, item.id), { headers: { Authorization: `Bearer ${token}` } })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`status ${r.status}`))))
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      link.href = url;
      link.querySelector("img")?.setAttribute("src", url);
    })
    .catch((e) => console.warn("interact: a file could not be fetched", e));
}

function renderItem(view, conv, item) {
  if (item.type === "attachment") {
    const li = el("li", `msg msg-${item.from} msg-file${item.self ? " msg-self" : ""}`);
    const bubble = el("div", "bubble");
    renderFile(conv, item, bubble);
    const meta = el("div", "msg-meta");
    const author =
      item.from === "visitor" ? visitorName(conv) : item.self ? t("msg.you") : item.author || t("msg.agent");
    meta.append(el("span", "msg-author", author), timeNode(item.at));
    li.append(bubble, meta);
    return li;
  }
  if (item.type !== "message") {
    const li = el("li", `sys sys-${item.type}`);
    li.append(el("span", "sys-text", systemText(conv, item)), timeNode(item.at));
    return li;
  }
  const li = el("li", `msg msg-${item.from}${item.self ? " msg-self" : ""}`);
  li.dataset.seq = String(item.seq);
  const bubble = el("div", "bubble");
  bubble.append(el("p", "msg-text", item.text));
  const meta = el("div", "msg-meta");
  let author;
  if (item.from === "visitor") author = item.author || visitorName(conv);
  else if (item.from === "agent") author = item.self ? t("msg.you") : item.author || t("msg.agent");
  else author = item.author || t("msg.system");
  meta.append(el("span", "msg-author", author), timeNode(item.at));
  if (item.mine) {
    const status = el("span", "msg-status");
    setStatus(status, conv.stateOf(item.id) ?? "sent");
    view.ownStatus.set(item.id, status);
    meta.append(status);
  }
  li.append(bubble, meta);
  if (item.from === "visitor") markAnswer(view, li);
  return li;
}

/** Reads the session's answers again; lists them and marks their messages. */
async function refreshAnswers(view) {
  const request = ++view.answersRequest;
  const answers = await loadAnswers(view.session);
  if (!answers || request !== view.answersRequest || views.get(view.session) !== view) return;
  renderAnswers(view.root, answers);
  view.answers = new Map();
  for (const a of answers) if (typeof a.seq === "number") view.answers.set(a.seq, a);
  for (const li of view.timeline.querySelectorAll("li.msg-visitor[data-seq]")) markAnswer(view, li);
}

/** Marks the visitor's message `li` as an answer to the workflow's question, if it is one. */
function markAnswer(view, li) {
  const answer = view.answers.get(Number(li.dataset.seq));
  li.querySelector(".msg-answer-label")?.remove();
  li.classList.toggle("msg-answer", answer != null);
  if (!answer) return;
  const label = el("span", "msg-answer-label", t("msg.answer", { name: answer.name }));
  label.title = answer.question;
  li.querySelector(".msg-meta")?.prepend(label);
}

function renderOutbox(view, conv) {
  const nodes = [];
  for (const p of conv.local) {
    const li = el("li", "msg msg-agent msg-self msg-local");
    const bubble = el("div", "bubble");
    bubble.append(el("p", "msg-text", p.text));
    const meta = el("div", "msg-meta");
    const status = el("span", "msg-status");
    setStatus(status, conv.stateOf(p.id) ?? "pending");
    meta.append(el("span", "msg-author", t("msg.you")), status);
    li.append(bubble, meta);
    nodes.push(li);
  }
  for (const f of conv.failed) {
    const li = el("li", "msg msg-agent msg-self msg-failed");
    const bubble = el("div", "bubble");
    bubble.append(el("p", "msg-text", f.text));
    const meta = el("div", "msg-meta");
    const status = el("span", "msg-status", textOf("failed", f.reason, null) ?? t("status.failed"));
    status.dataset.state = "failed";
    meta.append(el("span", "msg-author", t("msg.you")), status);
    li.append(bubble, meta);
    nodes.push(li);
  }
  view.outbox.replaceChildren(...nodes);
}

function renderTitle() {
  let unread = 0;
  for (const c of model.sessions.values()) unread += c.unread;
  const count = unread + model.offers.size;
  const title = count > 0 ? t("app.title_count", { n: count }) : t("app.title");
  if (document.title !== title) document.title = title;
}

/** Keeps this tab's list of open sessions and the chosen presence for a reload. */
function persist() {
  const value = JSON.stringify(model.openSessions());
  if (value !== persisted) {
    store.set(SESSIONS_KEY, value);
    persisted = value;
  }
  if (store.get(PRESENCE_KEY) !== model.wantedPresence) store.set(PRESENCE_KEY, model.wantedPresence);
}

// ---------------------------------------------------------------------------------------
// Start

/** The agent chose another language: everything shown is worded again. */
function relabel() {
  if (!model) {
    if (!$("signin-view").hidden) document.title = t("app.signin_title");
    return;
  }
  // Transcripts, offers and the details are rendered again from the model.
  for (const view of views.values()) {
    view.timeline.replaceChildren();
    view.rendered = 0;
    view.ownStatus.clear();
    view.version = -1;
    view.subKey = null;
    view.contextShown = undefined;
    loadNotes(view.root, view.session);
  }
  for (const node of offerNodes.values()) node.root.remove();
  offerNodes.clear();
  showAlerts();
  renderOffline();
  render();
}

function start() {
  setupI18n();
  onLangChange(relabel);
  setupAlerts();
  setupReplies();
  $("signin-form").addEventListener("submit", onSignIn);
  $("signout").addEventListener("click", onSignOut);
  $("presence-select").addEventListener("change", (e) => {
    if (!model) return;
    const presence = e.target.value;
    if (attempt((c) => c.setPresence(presence)) === null) model.wantedPresence = presence;
    render();
  });
  $("transfer-form").addEventListener("submit", confirmTransfer);
  $("transfer-cancel").addEventListener("click", closeTransfer);
  $("transfer-dialog").addEventListener("close", onTransferClosed);
  $("conn-retry").addEventListener("click", () => {
    attempt((c) => c.reconnectNow());
    render();
  });
  document.addEventListener("visibilitychange", () => update());
  window.addEventListener("focus", () => update());
  window.addEventListener("beforeunload", (e) => {
    if (client && client.hasUnsent()) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  const token = store.get(TOKEN_KEY);
  if (token) {
    let agent = null;
    try {
      agent = parseAgent(JSON.parse(store.get(AGENT_KEY) ?? "null"));
    } catch {
      agent = null;
    }
    startConsole(token, agent);
  } else {
    showSignIn(null, false);
  }
}

try {
  await init();
} catch (e) {
  // Without the package the console cannot work; say so where a person looks.
  console.error("interact: cannot load the console's WebAssembly package", e);
  setupI18n();
  $("signin-view").hidden = false;
  $("signin-error").textContent = t("app.load_failed");
  throw e;
}
start();
