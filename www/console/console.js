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
import { alertFor, setupAlerts } from "./alerts.js";
import { attachNotes, setNotesToken } from "./notes.js";
import { startOffline, stopOffline } from "./offline.js";
import { setupReplies } from "./replies.js";

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

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function fmtTime(at) {
  const d = new Date(at);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return timeFmt.format(d);
  return dateTimeFmt.format(d);
}

function timeNode(at) {
  const t = el("time", "stamp", fmtTime(at));
  t.dateTime = new Date(at).toISOString();
  t.title = dateTimeFmt.format(new Date(at));
  return t;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------------------
// Texts

const END_TEXT = {
  visitor_ended: "The visitor ended the chat",
  agent_ended: "The chat was ended by an agent",
  no_agent: "No agent could take the chat",
  closed: "The chat was closed (outside opening hours)",
  idle_timeout: "The chat ended after a period of inactivity",
  workflow: "The chat was ended by the workflow",
  failed: "The chat failed",
  other: "The chat ended",
};

const STATUS_TEXT = { pending: "Sending…", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent" };

const FAILED_TEXT = {
  ended: "Not sent: the chat ended",
  session_ended: "Not sent: the chat ended",
  invalid_field: "Not sent: refused by the server",
  not_allowed: "Not sent: not allowed now",
  unknown_session: "Not sent: chat not available",
  session_full: "Not sent: the chat holds all it can",
};

const ERROR_TEXT = {
  unsupported_protocol: "The server speaks another protocol version.",
  malformed: "The server could not read a request from the console.",
  frame_too_large: "A request was too large for the server.",
  too_deep: "A request was too complex for the server.",
  unknown_type: "The server does not support a request from the console.",
  invalid_field: "The server refused a request.",
  handshake_required: "The connection was refused (handshake).",
  unauthorized: "Your sign-in is no longer valid.",
  unknown_session: "That chat is not available.",
  not_allowed: "That is not possible right now.",
  rate_limited: "Too many requests. Slow down a little.",
  session_ended: "That chat has already ended.",
  internal: "The server had a problem. The console will retry.",
  session_full: "That chat holds all it can; it can only be ended.",
};

const CLOSE_TEXT = {
  1000: "The server closed the connection.",
  1008: "The server refused the connection.",
  4000: "The server speaks another protocol version.",
  4003: "The server reported a protocol violation.",
  4011: "The console was opened somewhere else.",
};

const COMPOSER_ERROR = {
  too_long: (max) => `Messages can be at most ${max} characters long.`,
  control_characters: () => "The message contains characters that cannot be sent.",
  not_writable: () => "You can no longer write in this chat.",
};

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
    signOutLocally("Your sign-in has expired or was revoked. Please sign in again.");
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
    if (view) setText(view.callText, `Your microphone${conv.call.media === "video" ? " or camera" : ""} is not available (${e && e.name ? e.name : "error"}). Allow it in the browser, or decline the call.`);
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
      o.textContent = d.label || `${kind} ${i + 1}`;
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
    const what = conv.call.media === "video" ? "a video" : "an audio";
    if (!accepting.has(view.session) && !view.callText.textContent.includes("not available")) {
      setText(view.callText, `The visitor is asking for ${what} call.`);
    }
    view.callAccept.disabled = !online || accepting.has(view.session);
    view.callDecline.disabled = !online;
  } else {
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
    call.reconnecting ? "Reconnecting the call…" : state === "connected" ? "Connected" : "Connecting…",
  ];
  if (remote?.muted) parts.push("the visitor is muted");
  if (screen) parts.push("the visitor shares their screen");
  setText(view.callStatus, parts.join(" · "));
  view.callMute.setAttribute("aria-pressed", String(call.muted));
  setText(view.callMute, call.muted ? "Unmute" : "Mute");
  view.callCamera.hidden = call.media !== "video";
  view.callCamera.setAttribute("aria-pressed", String(!call.cameraOn));
  setText(view.callCamera, call.cameraOn ? "Camera off" : "Camera on");
  view.callHangup.disabled = !online;
  view.callPanel.dataset.iceRestarts = String(call.iceRestarts);
  renderQuality(view, call.quality);
}

const RATING_TEXT = { good: "Good connection", fair: "Fair connection", poor: "Poor connection" };

/**
 * The call's quality (`CallQuality`) as three bars and words, with the figures behind
 * the rating in the title and, for screen readers, in the text.
 */
function renderQuality(view, q) {
  const rating = q?.rating ?? null;
  view.callQuality.hidden = !rating;
  if (!rating) return;
  const figures = [];
  if (q.rtt_ms != null) figures.push(`round trip ${q.rtt_ms} ms`);
  if (q.loss_permille != null) figures.push(`packet loss ${(q.loss_permille / 10).toFixed(1)} %`);
  if (q.jitter_ms != null) figures.push(`jitter ${q.jitter_ms} ms`);
  if (q.bitrate_kbps != null) figures.push(`${q.bitrate_kbps} kbit/s received`);
  if (q.width_px != null && q.height_px != null) figures.push(`video ${q.width_px}×${q.height_px}`);
  const details = figures.join(", ");
  view.callQuality.dataset.rating = rating;
  if (view.callQuality.title !== details) view.callQuality.title = details;
  setText(view.callQualityText, RATING_TEXT[rating]);
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
  document.title = "Sign in · Interact agent console";
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
    err.textContent = "Enter your username and password.";
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
      err.textContent = "Wrong username or password.";
      pass.select();
      pass.focus();
      return;
    }
    if (res.status === 429) {
      err.textContent = "Too many attempts. Wait a moment and try again.";
      return;
    }
    if (!res.ok) {
      err.textContent = `Sign-in failed (HTTP ${res.status}). Try again later.`;
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
      err.textContent = "The server sent an unexpected answer. Try again later.";
      return;
    }
    const agent = parseAgent(body.agent);
    pass.value = "";
    store.set(TOKEN_KEY, token);
    if (agent) store.set(AGENT_KEY, JSON.stringify(agent));
    store.remove(SESSIONS_KEY);
    startConsole(token, agent);
  } catch {
    err.textContent = "Could not reach the server. Check the connection and try again.";
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
  if (open > 0 && !window.confirm(`You have ${plural(open, "open chat", "open chats")}. Sign out anyway? The visitors will wait for another agent.`)) {
    return;
  }
  const token = store.get(TOKEN_KEY);
  stopConsole();
  clearStoredSession();
  showSignIn("You have signed out.", false);
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
    signOutLocally("The console could not start. Please sign in again.");
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
  render();
}

function stopConsole() {
  stopOffline();
  setNotesToken(null);
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
    text = "That chat is no longer available: another agent took it or the visitor left.";
  } else if (n.kind === "transfer_refused") {
    text = `The chat was not transferred: ${n.message}.`;
  } else if (n.kind === "error") {
    console.warn(`interact: server error ${n.code}: ${n.message}`);
    if (n.code === "unauthorized") return; // handled by the close that follows
    // A refusal the server explains (a WhatsApp reply outside the 24-hour window) is
    // shown in its words, as text.
    if (n.refused && n.code === "not_allowed" && n.message) text = n.message;
    else if (n.refused) text = "A message could not be sent; it is marked in the chat.";
    else text = ERROR_TEXT[n.code] ?? `The server reported an error (${n.code}).`;
  }
  if (!text) return;
  const box = $("notices");
  const note = el("div", "notice");
  note.append(el("p", "notice-text", text));
  const close = el("button", "btn btn-small notice-close", "Dismiss");
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
      text = "Online";
      break;
    case "connecting":
      text = model.lost ? "Reconnecting…" : "Connecting…";
      break;
    case "reconnecting": {
      const secs = Math.max(0, Math.ceil((link.at - now()) / 1000));
      text = secs > 0 ? `Connection lost · retrying in ${secs} s` : "Connection lost · retrying…";
      break;
    }
    default:
      state = "closed";
      text = `Disconnected · ${CLOSE_TEXT[link.code] ?? "The connection was closed."}`;
  }
  if (box.dataset.state !== state) box.dataset.state = state;
  setText($("conn-text"), text);
  retry.hidden = !(link.state === "reconnecting" || link.state === "closed");
  setText(retry, link.state === "closed" ? "Reconnect" : "Retry now");
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
    if (left <= 0) expiry = "expiring";
    else if (left < 120) expiry = `${left} s left`;
    else expiry = `${Math.ceil(left / 60)} min left`;
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
  const target = el("div", "offer-target", `via ${offer.target.display_name}`);
  root.append(head, contact, target);
  if (offer.call) {
    // Call-first: the offer rings; accepting it answers the call the visitor places.
    root.classList.add("offer-call");
    root.append(el("p", "offer-ring", offer.call === "video" ? "Incoming video call" : "Incoming audio call"));
  }
  if (offer.first_message) {
    root.append(el("p", "offer-message", offer.first_message));
  } else {
    root.append(el("p", "offer-message is-empty", "No first message"));
  }
  const actions = el("div", "offer-actions");
  const decline = el("button", "btn btn-small offer-decline", "Decline");
  const accept = el("button", "btn btn-small btn-primary offer-accept", "Accept");
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
  return conv.visitor?.display_name || "Visitor";
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
    if (conv.endReason === "agent_ended" && conv.endRequested) return "You ended the chat";
    return END_TEXT[conv.endReason] ?? END_TEXT.other;
  }
  if (conv.left && conv.transferredTo) return `Transferred to ${conv.transferredTo}`;
  if (conv.left) return "You left this chat";
  if (conv.typing) return "Typing…";
  if (conv.local.length > 0) return `You: ${conv.local[conv.local.length - 1].text}`;
  const last = lastMessage(conv);
  if (last) return last.mine ? `You: ${last.text}` : last.text;
  if (conv.offer?.first_message) return conv.offer.first_message;
  return conv.last === 0 ? "Joining…" : "No messages yet";
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
    setText(node.unreadLabel, conv.unread === 1 ? " unread message" : " unread messages");
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
    contextShown: null,
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
    if (!window.confirm(`End the chat with ${visitorName(conv)}?`)) return;
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
  setText($("transfer-title"), `Transfer the ${callGoesOn ? "call" : "chat"} with ${visitorName(conv)}`);
  setText(
    $("transfer-note"),
    callGoesOn
      ? "A call is in progress: it can go to a service only. It leaves you when you transfer, and goes on with the agent who takes it."
      : inCall
        ? "A call is in progress: it can go to a service only, and it ends when you transfer."
        : "The transcript goes with the chat; the visitor waits for the next agent.",
  );
  setText($("transfer-error"), "");
  const services = $("transfer-services-list");
  const users = $("transfer-users-list");
  services.replaceChildren(el("li", "transfer-loading", "Loading…"));
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
    setText($("transfer-error"), "The list could not be loaded. Close and try again.");
    return;
  }
  if (transferring?.session !== session) return;
  const option = (kind, t, detail) => {
    const li = el("li", "transfer-option");
    const label = el("label", "transfer-label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "transfer-target";
    input.value = `${kind}:${t.id}`;
    input.dataset.kind = kind;
    input.dataset.id = t.id;
    input.dataset.name = t.display_name;
    input.addEventListener("change", () => {
      $("transfer-confirm").disabled = false;
    });
    label.append(input, el("span", "transfer-name", t.display_name), el("span", "transfer-detail", detail));
    li.append(label);
    return li;
  };
  const here = conv.target;
  services.replaceChildren(
    ...(targets.services ?? [])
      .filter((t) => !(here?.kind === "service" && here.display_name === t.display_name))
      .map((t) => option("service", t, t.available > 0 ? `${t.available} available` : "nobody available")),
  );
  if (services.childElementCount === 0) services.append(el("li", "transfer-loading", "No other service."));
  users.replaceChildren(
    ...(inCall ? [] : targets.users ?? []).map((t) => option("user", t, t.available ? "available" : "not available")),
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
    setText($("transfer-error"), "The chat cannot be transferred now (offline, or it has ended).");
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
        const say = COMPOSER_ERROR[e.code];
        setText(view.error, say ? say(e.max) : "The message cannot be sent.");
      }
    } else {
      setText(view.error, COMPOSER_ERROR.not_writable());
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
  if (conv.target) sub.push(`via ${conv.target.display_name}`);
  // WhatsApp's badge (as in the offer) before the number; rebuilt only when it changes.
  const subText = sub.join(" · ");
  const subKey = `${whatsapp ? "whatsapp" : ""}|${subText}`;
  if (view.subKey !== subKey) {
    view.subKey = subKey;
    view.sub.replaceChildren(...(whatsapp ? [channelBadge("whatsapp")] : []), subText);
  }
  let state = "";
  if (conv.ended) state = "Ended";
  else if (conv.left && conv.transferredTo) state = `Transferred to ${conv.transferredTo}`;
  else if (conv.left) state = "Left";
  else if (conv.transferPending) state = "Transferring…";
  else if (conv.endRequested) state = "Ending…";
  else if (conv.last === 0) state = "Joining…";
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
  setText(d.emailLabel, whatsapp ? "WhatsApp" : "Email");
  setText(d.email, contactOf(conv.visitor) || "—");
  // The website vouched for the visitor (identify with a valid hash): its id for them.
  const verified = conv.visitor?.verified_id;
  d.verified.hidden = !verified;
  setText(d.visitorId, verified ?? "");
  setText(d.target, conv.target ? `${conv.target.display_name} (${conv.target.kind === "user" ? "direct" : "service"})` : "—");
  // A WhatsApp customer agreed to no policy here: the version is empty.
  const consent = conv.consent?.policy_version ? conv.consent : null;
  setText(d.consentVersion, consent ? `Privacy policy version ${consent.policy_version}` : "—");
  setText(d.consentTime, consent ? `given ${dateTimeFmt.format(new Date(consent.at))}` : "");
  setText(d.started, conv.startedAt != null ? dateTimeFmt.format(new Date(conv.startedAt)) : "—");
  setText(d.agents, conv.agents.size > 0 ? [...conv.agents.values()].join(", ") : "—");
  setText(d.session, conv.session);
  renderContext(view, conv.context);

  // Transcript: append what is new; items are append-only.
  let appended = false;
  while (view.rendered < conv.items.length) {
    view.timeline.append(renderItem(view, conv, conv.items[view.rendered]));
    view.rendered++;
    appended = true;
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
  if (typing) setText(view.typingText, `${name} is typing…`);

  // Composer
  setText(view.label, `Message to ${name}`);
  const writable = conv.writable;
  view.input.disabled = !writable;
  view.send.disabled = !writable;
  // Files: in widget chats only (WhatsApp carries none), one upload at a time.
  view.attach.hidden = conv.visitor?.channel === "whatsapp";
  view.attach.disabled = !writable || !view.progress.hidden;
  const placeholder = conv.ended
    ? "This chat has ended."
    : conv.left && conv.transferredTo
      ? `Transferred to ${conv.transferredTo}.`
      : conv.left
        ? "You left this chat."
        : "Write a reply…";
  if (view.input.placeholder !== placeholder) view.input.placeholder = placeholder;

  if (shown && view.stick && (appended || !wasVisible)) view.log.scrollTop = view.log.scrollHeight;
}

function setStatus(node, state) {
  if (!state) return;
  if (node.dataset.state !== state) node.dataset.state = state;
  setText(node, STATUS_TEXT[state]);
}

function systemText(conv, item) {
  const who = (agent, self) => (self ? "You" : agent.display_name);
  switch (item.type) {
    case "started":
      return `${item.visitor.display_name} started the chat via ${item.target.display_name}`;
    case "queued":
      return `Waiting in the queue (position ${item.position})`;
    case "agent_joined":
      return `${who(item.agent, item.self)} joined the chat`;
    case "agent_left":
      return `${who(item.agent, item.self)} left the chat`;
    case "transferred":
      if (item.self) return `You transferred the chat to ${item.to.display_name}`;
      return `${item.by ? item.by.display_name : "The workflow"} transferred the chat to ${item.to.display_name}`;
    case "call_start":
      return `The visitor asked for ${item.media === "video" ? "a video" : "an audio"} call`;
    case "call_end":
      if (item.by === "agent" && item.reason === "declined") return "The call was declined";
      return item.by === "visitor" ? "The visitor hung up" : "The call ended";
    case "undelivered":
      return `${item.from === "agent" ? "Your message" : "A message"} did not reach the visitor: ${item.reason}`;
    case "ended":
      if (item.reason === "agent_ended" && conv.endRequested) return "You ended the chat";
      return END_TEXT[item.reason] ?? END_TEXT.other;
    default:
      return "";
  }
}

/** Why the server refused a file, by its error code. */
const FILE_ERROR = {
  unsupported_type: "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
  too_large: "This file is too large.",
  rate_limited: "Too many files in this chat; wait a minute.",
  session_ended: "This chat has ended.",
  not_allowed: "You cannot send files in this chat.",
};

/** `1.2 MB`, `12 KB`, `512 B`, as the widget and the transcript say it. */
function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${(Math.ceil((bytes * 10) / (1024 * 1024)) / 10).toFixed(1)} MB`;
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
    setText(view.error, FILE_ERROR[code] ?? "The file could not be sent. Try again.");
  });
  xhr.send(file);
}

/** The transcript's file `item`: fetched with the agent's token into a `blob:` URL. */
function renderFile(conv, item, bubble) {
  const link = el("a", "file-link");
  link.download = item.name;
  const label = `${item.name} (${fileSize(item.size)})`;
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
      item.from === "visitor" ? visitorName(conv) : item.self ? "You" : item.author || "Agent";
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
  const bubble = el("div", "bubble");
  bubble.append(el("p", "msg-text", item.text));
  const meta = el("div", "msg-meta");
  let author;
  if (item.from === "visitor") author = item.author || visitorName(conv);
  else if (item.from === "agent") author = item.self ? "You" : item.author || "Agent";
  else author = item.author || "System";
  meta.append(el("span", "msg-author", author), timeNode(item.at));
  if (item.mine) {
    const status = el("span", "msg-status");
    setStatus(status, conv.stateOf(item.id) ?? "sent");
    view.ownStatus.set(item.id, status);
    meta.append(status);
  }
  li.append(bubble, meta);
  return li;
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
    meta.append(el("span", "msg-author", "You"), status);
    li.append(bubble, meta);
    nodes.push(li);
  }
  for (const f of conv.failed) {
    const li = el("li", "msg msg-agent msg-self msg-failed");
    const bubble = el("div", "bubble");
    bubble.append(el("p", "msg-text", f.text));
    const meta = el("div", "msg-meta");
    const status = el("span", "msg-status", FAILED_TEXT[f.reason] ?? "Not sent");
    status.dataset.state = "failed";
    meta.append(el("span", "msg-author", "You"), status);
    li.append(bubble, meta);
    nodes.push(li);
  }
  view.outbox.replaceChildren(...nodes);
}

function renderTitle() {
  let unread = 0;
  for (const c of model.sessions.values()) unread += c.unread;
  const count = unread + model.offers.size;
  const title = count > 0 ? `(${count}) Interact agent console` : "Interact agent console";
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

function start() {
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
  $("signin-view").hidden = false;
  $("signin-error").textContent = "The console could not load. Reload the page, or ask your administrator.";
  throw e;
}
start();
