// Interact agent console: the protocol and state layer (wire protocol v1, docs/protocol.md).
//
// No DOM, no sockets, no clock, no randomness of its own: like the SDK's `Agent` machine,
// the driver (console.js) feeds in what happened together with the current time
// (milliseconds on a monotonic clock of its choice) and carries out what comes back from
// `poll()`:
//
//   {type: "connect"}                  open a new WebSocket (dropping any old one), then
//                                      call handleOpen() or handleClose()
//   {type: "transmit", text, frame}    send this text frame
//   {type: "close", code}              close the current WebSocket; report nothing more for it
//   {type: "notice", ...}              something to tell the user (errors, refused accepts)
//
// After every input drain poll() until it returns null, render from the state, and call
// handleTimeout() at nextTimeout(). Everything here runs in Node as well as in a browser.

export const PROTOCOL_VERSION = 1;
export const CLIENT_NAME = "interact-console/0.1.0";

/** Limits and timers of protocol v1 (docs/protocol.md §4), in bytes, characters and ms. */
export const LIMITS = Object.freeze({
  MAX_FRAME_BYTES: 65536,
  MAX_JSON_DEPTH: 8,
  MAX_TEXT_CHARS: 4000,
  MAX_ID_LEN: 64,
  PING_INTERVAL: 20_000,
  IDLE_TIMEOUT: 60_000,
  HANDSHAKE_TIMEOUT: 10_000,
  ACK_TIMEOUT: 5_000,
  GAP_TIMEOUT: 500,
  TYPING_TTL: 6_000,
  TYPING_REFRESH: 3_000,
  RECONNECT_MIN: 500,
  RECONNECT_MAX: 30_000,
  MAX_BUFFERED: 512,
});

export const PRESENCES = Object.freeze(["available", "busy", "away", "offline"]);
export const PARTIES = Object.freeze(["visitor", "agent", "system"]);
export const END_REASONS = Object.freeze([
  "visitor_ended", "agent_ended", "no_agent", "closed", "idle_timeout", "workflow", "failed", "other",
]);
/** Delivery states of the agent's own messages, in order. */
export const DELIVERY = Object.freeze(["pending", "sent", "delivered", "read"]);

/** Close codes after which a client does not reconnect (§13); every other code reconnects. */
const NO_RECONNECT = new Set([1000, 1008, 4000, 4001, 4003, 4011]);

/** Error codes that mean a message will never be stored, so resending it is pointless. */
const MESSAGE_REFUSED = new Set(["invalid_field", "session_ended", "session_full", "not_allowed", "unknown_session"]);

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether `s` is a protocol identifier (§5.1): 1 to 64 of A-Z a-z 0-9 - _. */
export function isId(s) {
  return typeof s === "string" && ID_RE.test(s);
}

/** Whether a client reconnects after this close code (`null`: no code at all). */
export function shouldReconnect(code) {
  return code == null || !NO_RECONNECT.has(code);
}

/**
 * Reconnect delay before attempt `attempt` (from 1): min(0.5 s × 2^(n−1), 30 s) plus a
 * random extra of up to half of that. `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt, random) {
  const n = Math.max(1, Math.min(attempt, 16));
  const base = Math.min(LIMITS.RECONNECT_MIN * 2 ** (n - 1), LIMITS.RECONNECT_MAX);
  return base + Math.floor(random() * (base / 2 + 1));
}

const encoder = new TextEncoder();

/**
 * Nesting depth of a JSON text, counted on the raw text as §3 describes (brackets outside
 * strings), so that hostile frames are refused before parsing.
 */
export function jsonDepth(text) {
  let depth = 0;
  let max = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true; // backslash
      else if (c === 0x22) inString = false; // quote
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return max;
}

// ---------------------------------------------------------------------------------------
// Chat text (§14: `first_message` rules, and not blank)

// Leading and trailing Unicode White_Space.
const TRIM_RE = /^\p{White_Space}+|\p{White_Space}+$/gu;
// C0 and C1 controls except tab, line feed and carriage return; bidi overrides and isolates.
const FORBIDDEN_IN_TEXT_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/**
 * Validates a chat message the way the server will: returns `{ok: true, text}` with the
 * trimmed text, or `{ok: false, code}` with `required`, `too_long` (and `max`) or
 * `control_characters`.
 */
export function validateText(input) {
  const text = String(input).replace(TRIM_RE, "");
  if (text.length === 0) return { ok: false, code: "required" };
  let chars = 0;
  for (const _ of text) chars++; // Unicode scalar values, not UTF-16 units
  if (chars > LIMITS.MAX_TEXT_CHARS) return { ok: false, code: "too_long", max: LIMITS.MAX_TEXT_CHARS };
  if (FORBIDDEN_IN_TEXT_RE.test(text)) return { ok: false, code: "control_characters" };
  return { ok: true, text };
}

// ---------------------------------------------------------------------------------------
// Decoding server frames

/** A frame from the server broke the protocol; it is dropped. */
export class MalformedFrame extends Error {}

function fail(why) {
  throw new MalformedFrame(why);
}
function isObj(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function obj(v, what) {
  if (!isObj(v)) fail(`${what}: expected an object`);
  return v;
}
function str(v, what) {
  if (typeof v !== "string") fail(`${what}: expected a string`);
  return v;
}
function optStr(v, what) {
  return v == null ? null : str(v, what);
}
function uint(v, what) {
  if (!Number.isSafeInteger(v) || v < 0) fail(`${what}: expected a non-negative integer`);
  return v;
}
function id(v, what) {
  if (!isId(v)) fail(`${what}: expected an identifier`);
  return v;
}
function optId(v, what) {
  return v == null ? null : id(v, what);
}
function bool(v, what) {
  if (typeof v !== "boolean") fail(`${what}: expected a boolean`);
  return v;
}
function oneOf(v, allowed, what) {
  if (!allowed.includes(v)) fail(`${what}: unexpected value`);
  return v;
}
function person(v, what) {
  obj(v, what);
  return { display_name: str(v.display_name, `${what}.display_name`), email: str(v.email, `${what}.email`) };
}
function target(v, what) {
  obj(v, what);
  return {
    kind: oneOf(v.kind, ["service", "user"], `${what}.kind`),
    display_name: str(v.display_name, `${what}.display_name`),
  };
}
function agentInfo(v, what) {
  obj(v, what);
  return { id: id(v.id, `${what}.id`), display_name: str(v.display_name, `${what}.display_name`) };
}

function decodeSignal(v) {
  obj(v, "signal");
  if (typeof v.op !== "string") fail("signal.op: expected a string");
  const known = ["start", "accept", "offer", "answer", "ice", "media", "device_changed", "hangup"];
  if (!known.includes(v.op)) return { op: "unknown" };
  const signal = { op: v.op, call: id(v.call, "signal.call") };
  if (v.op === "start") signal.media = oneOf(v.media, ["audio", "video"], "signal.media");
  if (v.op === "offer" || v.op === "answer") signal.sdp = str(v.sdp, "signal.sdp");
  if (v.op === "ice") {
    obj(v.candidate, "signal.candidate");
    signal.candidate = {
      candidate: str(v.candidate.candidate, "signal.candidate.candidate"),
      sdp_mid: v.candidate.sdp_mid == null ? null : str(v.candidate.sdp_mid, "signal.candidate.sdp_mid"),
      sdp_m_line_index:
        v.candidate.sdp_m_line_index == null ? null : uint(v.candidate.sdp_m_line_index, "signal.candidate.sdp_m_line_index"),
    };
  }
  if (v.op === "media") {
    obj(v.state, "signal.state");
    signal.state = {
      muted: bool(v.state.muted, "signal.state.muted"),
      camera: bool(v.state.camera, "signal.state.camera"),
      screen: bool(v.state.screen, "signal.state.screen"),
    };
  }
  if (v.op === "device_changed") signal.kind = str(v.kind, "signal.kind");
  if (v.op === "hangup") {
    const reason = str(v.reason, "signal.reason");
    const reasons = ["normal", "declined", "no_answer", "failed", "busy", "not_allowed", "other"];
    signal.reason = reasons.includes(reason) ? reason : "other";
  }
  return signal;
}

/** Decodes the `event` object of an `event` frame (§9). Unknown kinds decode as `unknown`. */
export function decodeEvent(v) {
  obj(v, "event");
  if (typeof v.kind !== "string") fail("event.kind: expected a string");
  switch (v.kind) {
    case "started":
      obj(v.consent, "consent");
      return {
        kind: "started",
        visitor: person(v.visitor, "visitor"),
        consent: {
          policy_version: str(v.consent.policy_version, "consent.policy_version"),
          at: uint(v.consent.at, "consent.at"),
        },
        target: target(v.target, "target"),
      };
    case "message":
      return {
        kind: "message",
        id: id(v.id, "id"),
        from: oneOf(v.from, PARTIES, "from"),
        author: optStr(v.author, "author"),
        text: str(v.text, "text"),
      };
    case "queued":
      return { kind: "queued", position: uint(v.position, "position") };
    case "agent_joined":
    case "agent_left":
      return { kind: v.kind, agent: agentInfo(v.agent, "agent") };
    case "receipt":
      return {
        kind: "receipt",
        by: oneOf(v.by, PARTIES, "by"),
        up_to: uint(v.up_to, "up_to"),
        state: oneOf(v.state, ["delivered", "read"], "state"),
      };
    case "call":
      return { kind: "call", from: oneOf(v.from, PARTIES, "from"), signal: decodeSignal(v.signal) };
    case "ended": {
      const reason = str(v.reason, "reason");
      return { kind: "ended", reason: END_REASONS.includes(reason) ? reason : "other" };
    }
    default:
      return { kind: "unknown" };
  }
}

/**
 * Decodes one text frame from the server: checks size and depth first (§3), then the
 * members the agent console uses. Returns the frame (`type: "unknown"` for types an agent
 * does not handle) or throws `MalformedFrame`.
 */
/** The `heads` of `welcome` and `pong`: session id -> head (default: none). */
function heads(v) {
  const map = new Map();
  if (v != null) {
    obj(v, "heads");
    for (const [session, head] of Object.entries(v)) {
      map.set(id(session, "heads key"), uint(head, "heads value"));
    }
  }
  return map;
}

export function decodeServerFrame(text) {
  if (typeof text !== "string") fail("binary frame");
  // UTF-8 is at most 3 bytes per UTF-16 unit, so short frames skip the exact count.
  if (text.length * 3 > LIMITS.MAX_FRAME_BYTES && encoder.encode(text).length > LIMITS.MAX_FRAME_BYTES) {
    fail("frame too large");
  }
  if (jsonDepth(text) > LIMITS.MAX_JSON_DEPTH) fail("frame too deep");
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    fail("not JSON");
  }
  obj(v, "frame");
  if (typeof v.type !== "string") fail("type: expected a string");
  switch (v.type) {
    case "welcome":
      return {
        type: "welcome",
        protocol: uint(v.protocol, "protocol"),
        agent: v.agent == null ? null : agentInfo(v.agent, "agent"),
        heads: heads(v.heads),
      };
    case "replayed":
      return {
        type: "replayed",
        session: id(v.session, "session"),
        through: uint(v.through, "through"),
        head: uint(v.head, "head"),
      };
    case "ice_servers": {
      if (!Array.isArray(v.servers)) fail("servers: expected an array");
      const servers = v.servers.map((s, i) => {
        obj(s, `servers[${i}]`);
        if (!Array.isArray(s.urls)) fail(`servers[${i}].urls: expected an array`);
        const server = { urls: s.urls.map((u, j) => str(u, `servers[${i}].urls[${j}]`)) };
        if (s.username != null) server.username = str(s.username, `servers[${i}].username`);
        if (s.credential != null) server.credential = str(s.credential, `servers[${i}].credential`);
        return server;
      });
      return { type: "ice_servers", servers };
    }
    case "offer":
      return {
        type: "offer",
        session: id(v.session, "session"),
        visitor: person(v.visitor, "visitor"),
        target: target(v.target, "target"),
        first_message: optStr(v.first_message, "first_message"),
        expires_at: uint(v.expires_at, "expires_at"),
      };
    case "offer_withdrawn":
      return { type: "offer_withdrawn", session: id(v.session, "session") };
    case "presence":
      return { type: "presence", presence: oneOf(v.presence, PRESENCES, "presence") };
    case "event": {
      const seq = uint(v.seq, "seq");
      if (seq < 1) fail("seq: must be at least 1");
      return {
        type: "event",
        session: id(v.session, "session"),
        seq,
        at: uint(v.at, "at"),
        event: decodeEvent(v.event),
      };
    }
    case "ack":
      return { type: "ack", session: id(v.session, "session"), id: id(v.id, "id"), seq: uint(v.seq, "seq") };
    case "typing":
      return {
        type: "typing",
        session: id(v.session, "session"),
        from: oneOf(v.from, PARTIES, "from"),
        active: bool(v.active, "active"),
      };
    case "pong":
      return { type: "pong", nonce: v.nonce == null ? 0 : uint(v.nonce, "nonce"), heads: heads(v.heads) };
    case "error":
      return {
        type: "error",
        code: str(v.code, "code"),
        message: v.message == null ? "" : str(v.message, "message"),
        id: optId(v.id, "id"),
        session: optId(v.session, "session"),
        fatal: v.fatal == null ? false : bool(v.fatal, "fatal"),
      };
    default:
      return { type: "unknown" };
  }
}

// ---------------------------------------------------------------------------------------
// One session as the agent sees it

const rank = (state) => DELIVERY.indexOf(state);

/**
 * One session the agent handles: in-order exactly-once delivery of its events, the outbox
 * of unacknowledged messages, delivery states, receipts, typing, and what the console
 * shows (visitor details, transcript items, unread count).
 */
export class Conversation {
  constructor(session, { last = 0, offer = null, restored = false } = {}) {
    this.session = session;
    /** Highest sequence number delivered in order. */
    this.last = last;
    /** Highest sequence number known to exist (events, acks, pong heads). */
    this.knownHead = last;
    /** Events that arrived early, by seq. */
    this.buffer = new Map();
    /** Since when a gap is known (for `sync` after GAP_TIMEOUT), or null. */
    this.gapSince = null;
    /** Messages not yet acknowledged, in sending order: {id, text, sentAt}. */
    this.outbox = [];
    /** The agent's own messages: id -> {seq (null until known), state}. */
    this.own = new Map();
    /** Own messages sent from this console whose event is not in the transcript yet. */
    this.local = [];
    /** Own messages the server refused or that the end of the session cut off. */
    this.failed = [];
    this.peerLast = 0;
    this.deliveredSent = last;
    this.readSent = 0;
    this.peerTypingUntil = null;
    this.typingSentAt = null;

    /** The offer this session came from (shown until `started` arrives). */
    this.offer = offer;
    /** Restored after a page reload with last 0; dropped if the server does not know it. */
    this.restored = restored;
    this.visitor = offer ? { ...offer.visitor } : null;
    this.target = offer ? { ...offer.target } : null;
    this.consent = null;
    this.startedAt = null;
    /** Agents currently in the session: id -> display name. */
    this.agents = new Map();
    /** The agent left the session (transfer): read-only from then on. */
    this.left = false;
    this.ended = false;
    this.endReason = null;
    this.endRequested = false;
    /**
     * The visitor's call in this session, or null: {id, media, accepted, remote}, where
     * `accepted` says the agent took it and `remote` is the visitor's last media state.
     */
    this.call = null;
    /** Signals of the visitor for the current call not yet taken by the console (§10). */
    this.callSignals = [];
    /** Visitor and system messages not yet seen by the agent. */
    this.unread = 0;
    /** Transcript entries, append-only, in seq order. */
    this.items = [];
    /** Bumped whenever a delivery state or the local/failed lists change. */
    this.version = 0;
  }

  /** The call is over (hung up, or the session ended or was left). */
  endCall() {
    this.call = null;
    this.callSignals = [];
  }

  /** Takes the visitor's signals for the current call, in order. */
  takeCallSignals() {
    const signals = this.callSignals;
    this.callSignals = [];
    return signals;
  }

  /** Whether the agent can still write in this session. */
  get writable() {
    return !this.ended && !this.left;
  }

  /** Delivery state of an own message id, or null. */
  stateOf(id) {
    return this.own.get(id)?.state ?? null;
  }

  noteHead(head) {
    if (head > this.knownHead) this.knownHead = head;
  }

  noteHeadAt(now, head) {
    this.noteHead(head);
    if (this.knownHead > this.last && this.gapSince == null) this.gapSince = now;
  }

  /**
   * A page of a replay ended (`replayed`, §6.8): the `sync` for what is still missing,
   * sent at once rather than after the gap timer, or null if nothing is.
   */
  replayed(now, head) {
    this.noteHead(head);
    if (this.knownHead <= this.last) return null;
    this.gapSince = now; // if this answer is lost too, the gap timer asks again
    return { type: "sync", session: this.session, after: this.last };
  }

  /**
   * The server refused message `id` for the rate: it and every later message go again,
   * in their order, after ACK_TIMEOUT (§6.5), so that none overtakes it.
   */
  holdFrom(now, msgId) {
    const i = this.outbox.findIndex((p) => p.id === msgId);
    if (i < 0) return;
    for (const p of this.outbox.slice(i)) p.sentAt = now;
  }

  setOwn(id, seq, state) {
    const cur = this.own.get(id);
    if (!cur) {
      this.own.set(id, { seq, state });
    } else {
      if (seq != null) cur.seq = seq;
      if (rank(state) > rank(cur.state)) cur.state = state;
    }
    this.version++;
  }

  /** The server stored our message `id` as `seq`. */
  acked(now, msgId, seq) {
    const i = this.outbox.findIndex((p) => p.id === msgId);
    if (i >= 0) {
      this.outbox.splice(i, 1);
      this.setOwn(msgId, seq, "sent");
    }
    this.noteHeadAt(now, seq);
  }

  /** Takes one sequenced event; delivers every event now in order, exactly once. */
  receive(now, frame, me) {
    this.noteHead(frame.seq);
    if (frame.seq <= this.last || this.buffer.has(frame.seq)) return;
    if (this.buffer.size >= LIMITS.MAX_BUFFERED) return; // fetched again by sync
    this.buffer.set(frame.seq, frame);
    let next;
    while ((next = this.buffer.get(this.last + 1))) {
      this.buffer.delete(next.seq);
      this.last = next.seq;
      this.deliver(next, me);
    }
    this.gapSince = this.knownHead > this.last ? (this.gapSince ?? now) : null;
  }

  deliver(frame, me) {
    const { seq, at, event: ev } = frame;
    const base = { seq, at };
    switch (ev.kind) {
      case "started":
        this.visitor = { ...ev.visitor };
        this.consent = { ...ev.consent };
        this.target = { ...ev.target };
        this.startedAt = at;
        this.items.push({ ...base, type: "started", visitor: this.visitor, target: this.target });
        break;
      case "message": {
        const mine = ev.from === "agent";
        if (mine) {
          const i = this.outbox.findIndex((p) => p.id === ev.id);
          if (i >= 0) this.outbox.splice(i, 1);
          this.setOwn(ev.id, seq, "sent");
          const j = this.local.findIndex((p) => p.id === ev.id);
          if (j >= 0) this.local.splice(j, 1);
        } else {
          this.peerLast = seq;
          this.unread++;
          if (ev.from === "visitor") this.peerTypingUntil = null;
        }
        this.items.push({
          ...base,
          type: "message",
          id: ev.id,
          from: ev.from,
          author: ev.author,
          text: ev.text,
          mine,
          // Sent by this agent (as opposed to a colleague before a transfer).
          self: mine && (this.own.has(ev.id) || (me != null && ev.author === me.display_name)),
        });
        break;
      }
      case "queued":
        this.items.push({ ...base, type: "queued", position: ev.position });
        break;
      case "agent_joined":
        this.agents.set(ev.agent.id, ev.agent.display_name);
        if (me && ev.agent.id === me.id) this.left = false;
        this.items.push({ ...base, type: "agent_joined", agent: ev.agent, self: me?.id === ev.agent.id });
        break;
      case "agent_left":
        this.agents.delete(ev.agent.id);
        if (me && ev.agent.id === me.id) this.left = true;
        if (this.call) this.endCall(); // the server ends any call when the agent leaves
        this.items.push({ ...base, type: "agent_left", agent: ev.agent, self: me?.id === ev.agent.id });
        break;
      case "receipt":
        if (ev.by !== "agent") {
          for (const entry of this.own.values()) {
            if (entry.seq != null && entry.seq <= ev.up_to && rank(entry.state) < rank(ev.state)) {
              entry.state = ev.state;
              this.version++;
            }
          }
        }
        break;
      case "call": {
        const s = ev.signal;
        if (s.op === "start" && ev.from === "visitor") {
          if (!this.call) {
            this.call = { id: s.call, media: s.media, accepted: false, remote: null };
            this.items.push({ ...base, type: "call_start", media: s.media });
          }
        } else if (!this.call || s.call !== this.call.id) {
          // A signal of another (earlier) call: stale (§10.1).
        } else if (s.op === "hangup") {
          this.endCall();
          this.items.push({ ...base, type: "call_end", reason: s.reason, by: ev.from });
        } else if (s.op === "accept" && ev.from === "agent") {
          this.call.accepted = true;
        } else if (ev.from === "visitor") {
          if (s.op === "media") this.call.remote = s.state;
          this.callSignals.push(s);
        }
        break;
      }
      case "ended":
        this.ended = true;
        this.endReason = ev.reason;
        this.endCall();
        this.peerTypingUntil = null;
        for (const p of this.outbox) {
          this.failed.push({ id: p.id, text: p.text, reason: "ended" });
          this.local = this.local.filter((l) => l.id !== p.id);
        }
        this.outbox = [];
        this.version++;
        this.items.push({ ...base, type: "ended", reason: ev.reason });
        break;
      default:
        // Unknown events only take their sequence number.
        break;
    }
  }

  /** A `delivered` receipt to send after new visitor messages arrived, or null. */
  takeDeliveredReceipt() {
    if (this.ended || this.peerLast <= this.deliveredSent) return null;
    this.deliveredSent = this.peerLast;
    return { type: "receipt", session: this.session, up_to: this.peerLast, state: "delivered" };
  }

  /** A `read` receipt for everything so far, or null. */
  takeReadReceipt() {
    if (this.ended || this.peerLast <= this.readSent) return null;
    this.readSent = this.peerLast;
    if (this.deliveredSent < this.peerLast) this.deliveredSent = this.peerLast;
    return { type: "receipt", session: this.session, up_to: this.peerLast, state: "read" };
  }

  peerTyping(now, active) {
    this.peerTypingUntil = active && !this.ended ? now + LIMITS.TYPING_TTL : null;
  }

  /** Whether the visitor is typing at `now`. */
  visitorTyping(now) {
    return this.peerTypingUntil != null && now < this.peerTypingUntil;
  }

  /** The local typing frame to send (throttled), or null. */
  localTyping(now, active) {
    let send;
    if (active) send = this.typingSentAt == null || now >= this.typingSentAt + LIMITS.TYPING_REFRESH;
    else send = this.typingSentAt != null;
    if (!send || this.ended) return null;
    this.typingSentAt = active ? now : null;
    return { type: "typing", session: this.session, active };
  }

  sendFrame(p) {
    return { type: "send", session: this.session, id: p.id, text: p.text };
  }

  nextTimeout(online) {
    let t = this.peerTypingUntil ?? Infinity;
    if (!online) return t;
    for (const p of this.outbox) t = Math.min(t, p.sentAt == null ? 0 : p.sentAt + LIMITS.ACK_TIMEOUT);
    if (this.gapSince != null) t = Math.min(t, this.gapSince + LIMITS.GAP_TIMEOUT);
    return t;
  }

  /** Timers: typing expiry; when online also gap recovery and resends. Returns frames. */
  handleTimeout(now, online) {
    const frames = [];
    if (this.peerTypingUntil != null && now >= this.peerTypingUntil) this.peerTypingUntil = null;
    if (!online) return frames;
    if (this.gapSince != null && now >= this.gapSince + LIMITS.GAP_TIMEOUT) {
      frames.push({ type: "sync", session: this.session, after: this.last });
      this.gapSince = now; // ask again if the gap is still there after another timeout
    }
    for (const p of this.outbox) {
      if (p.sentAt == null || now >= p.sentAt + LIMITS.ACK_TIMEOUT) {
        frames.push(this.sendFrame(p));
        p.sentAt = now;
      }
    }
    return frames;
  }

  /** After a welcome: every unacknowledged message again, in order, same ids. */
  resendAll(now) {
    const frames = this.outbox.map((p) => {
      p.sentAt = now;
      return this.sendFrame(p);
    });
    if (this.knownHead > this.last || this.buffer.size > 0) this.gapSince ??= now;
    return frames;
  }

  /** The server refused message `id` for good. */
  refuse(msgId, code) {
    const i = this.outbox.findIndex((p) => p.id === msgId);
    if (i < 0) return false;
    const [p] = this.outbox.splice(i, 1);
    this.local = this.local.filter((l) => l.id !== msgId);
    this.failed.push({ id: p.id, text: p.text, reason: code });
    this.version++;
    return true;
  }
}

// ---------------------------------------------------------------------------------------
// The agent connection

/**
 * The agent client: sign-in with a bearer token, presence, offers, several sessions at
 * once, and the link (handshake, keep-alive, dead-link detection, reconnect with backoff).
 *
 * `link.state` is `connecting`, `online`, `reconnecting` (with `attempt` and `at`) or
 * `closed` (with `code`).
 */
export class AgentClient {
  /**
   * @param {object} o
   * @param {string} o.token bearer token from POST /v1/agent/login
   * @param {number} o.now current time (ms, monotonic)
   * @param {() => string} o.newId a fresh message id ([A-Za-z0-9_-]{1,64})
   * @param {() => number} [o.random] uniform in [0, 1), for reconnect jitter
   * @param {string} [o.presence] presence chosen by the user (sent after every welcome)
   * @param {string[]} [o.restore] sessions handled before a page reload (resumed from 0)
   * @param {{id: string, display_name: string}} [o.me] who signed in, if already known
   */
  constructor({ token, now, newId, random = Math.random, presence = "available", restore = [], me = null, client = CLIENT_NAME }) {
    this.token = token;
    this.newId = newId;
    this.random = random;
    this.client = client;
    this.out = [{ type: "connect" }];
    this.link = { state: "connecting", attempt: 0, at: null, code: null, since: now, lastRx: now, lastTx: now };
    this.attempts = 0;
    this.nonce = 0;
    /** Who signed in ({id, display_name}), from `welcome`. */
    this.me = me;
    /** Presence the user chose; `presence` is what the server last confirmed. */
    this.wantedPresence = PRESENCES.includes(presence) ? presence : "available";
    this.presence = null;
    /** ICE servers for calls (RTCIceServer objects), from the server's `ice_servers`. */
    this.iceServers = [];
    /** The last fatal error code from the server (`unauthorized`, ...), or null. */
    this.fatal = null;
    /** Offers not yet accepted, declined or withdrawn, by session. */
    this.offers = new Map();
    /** Sessions the agent handles, in the order they came. */
    this.sessions = new Map();
    for (const s of restore) {
      if (isId(s) && !this.sessions.has(s)) this.sessions.set(s, new Conversation(s, { restored: true }));
    }
  }

  get online() {
    return this.link.state === "online";
  }

  /** Next output for the driver, or null when there is nothing more to do. */
  poll() {
    return this.out.shift() ?? null;
  }

  transmit(now, frame) {
    this.out.push({ type: "transmit", frame, text: JSON.stringify(frame) });
    this.link.lastTx = now;
  }

  notice(n) {
    this.out.push({ type: "notice", ...n });
  }

  /** Whether messages are waiting for the server's acknowledgement. */
  hasUnsent() {
    for (const c of this.sessions.values()) if (c.outbox.length > 0) return true;
    return false;
  }

  /** The resume map of `agent_hello`: session -> last seq, for sessions not ended. */
  resumeMap() {
    const resume = {};
    for (const [s, c] of this.sessions) if (!c.ended) resume[s] = c.last;
    return resume;
  }

  // --- transport inputs ---

  /** The WebSocket asked for with `connect` is open. */
  handleOpen(now) {
    if (this.link.state !== "connecting") return;
    this.link.since = now;
    this.link.lastRx = now;
    this.link.lastTx = now;
    this.transmit(now, {
      type: "agent_hello",
      protocol: PROTOCOL_VERSION,
      token: this.token,
      client: this.client,
      resume: this.resumeMap(),
    });
  }

  /** The WebSocket closed or failed, with its close code if any. */
  handleClose(now, code = null) {
    const st = this.link.state;
    if (st === "closed" || st === "reconnecting") return;
    this.offers.clear(); // offered again after a reconnect
    for (const c of this.sessions.values()) c.typingSentAt = null;
    if (!shouldReconnect(code)) {
      this.link = { ...this.link, state: "closed", code, at: null };
      return;
    }
    this.attempts++;
    this.link = {
      ...this.link,
      state: "reconnecting",
      attempt: this.attempts,
      at: now + backoffDelay(this.attempts, this.random),
      code,
    };
  }

  /** A text frame arrived. Returns an error message for the console's log, or null. */
  handleText(now, text) {
    this.link.lastRx = now;
    let frame;
    try {
      frame = decodeServerFrame(text);
    } catch (e) {
      if (e instanceof MalformedFrame) return `dropped a malformed frame: ${e.message}`;
      throw e;
    }
    this.handleFrame(now, frame);
    return null;
  }

  handleFrame(now, f) {
    switch (f.type) {
      case "welcome": {
        if (f.protocol !== PROTOCOL_VERSION) {
          this.out.push({ type: "close", code: 4000 });
          this.link = { ...this.link, state: "closed", code: 4000, at: null };
          return;
        }
        this.link = { ...this.link, state: "online", attempt: 0, at: null, code: null, lastRx: now };
        this.attempts = 0;
        this.fatal = null;
        if (f.agent) this.me = f.agent;
        this.transmit(now, { type: "set_presence", presence: this.wantedPresence });
        // The server replays only the sessions we named; the others it says we handle
        // (a reload that lost them) are fetched from the start (§6.2).
        for (const [s, head] of f.heads) {
          let conv = this.sessions.get(s);
          if (conv) {
            conv.noteHead(head);
            continue;
          }
          conv = new Conversation(s);
          this.sessions.set(s, conv);
          const sync = conv.replayed(now, head);
          if (sync) this.transmit(now, sync);
        }
        // Sessions restored after a reload that the server does not count as ours.
        for (const [s, c] of this.sessions) {
          if (c.restored && c.last === 0 && !f.heads.has(s)) this.sessions.delete(s);
        }
        for (const c of this.sessions.values()) {
          for (const frame of c.resendAll(now)) this.transmit(now, frame);
        }
        break;
      }
      case "offer": {
        const conv = this.sessions.get(f.session);
        if (conv && conv.last === 0) {
          // Offered again a session we accepted but whose accept was lost: accept again.
          this.transmit(now, { type: "accept", session: f.session });
          return;
        }
        if (conv) return;
        this.offers.set(f.session, f);
        break;
      }
      case "offer_withdrawn":
        this.offers.delete(f.session);
        break;
      case "presence":
        this.presence = f.presence;
        this.wantedPresence = f.presence;
        break;
      case "ice_servers":
        // For the next call (the server's TURN credentials for this agent, §6.2).
        this.iceServers = f.servers;
        break;
      case "event": {
        let conv = this.sessions.get(f.session);
        if (!conv) {
          conv = new Conversation(f.session);
          this.sessions.set(f.session, conv);
        }
        this.offers.delete(f.session);
        conv.restored = false;
        conv.receive(now, f, this.me);
        const receipt = this.online ? conv.takeDeliveredReceipt() : null;
        if (receipt) this.transmit(now, receipt);
        break;
      }
      case "ack": {
        const conv = this.sessions.get(f.session);
        if (conv) conv.acked(now, f.id, f.seq);
        break;
      }
      case "replayed": {
        const sync = this.sessions.get(f.session)?.replayed(now, f.head);
        if (sync && this.online) this.transmit(now, sync);
        break;
      }
      case "typing": {
        const conv = this.sessions.get(f.session);
        if (conv && f.from !== "agent") conv.peerTyping(now, f.active);
        break;
      }
      case "pong":
        for (const [s, head] of f.heads) this.sessions.get(s)?.noteHeadAt(now, head);
        // Sessions restored after a reload that the server does not count as ours.
        for (const [s, c] of this.sessions) {
          if (c.restored && c.last === 0 && !f.heads.has(s)) this.sessions.delete(s);
        }
        break;
      case "error":
        this.handleError(now, f);
        break;
      default:
        break; // unknown frames are ignored
    }
  }

  handleError(now, e) {
    if (e.fatal) this.fatal = e.code;
    let refused = false;
    // A refused accept (or a restored session the server does not know) leaves nothing behind.
    if (e.session && (e.code === "unknown_session" || e.code === "not_allowed") && !e.id) {
      const conv = this.sessions.get(e.session);
      if (conv && conv.last === 0) {
        this.sessions.delete(e.session);
        this.notice({ kind: "accept_refused", code: e.code, session: e.session, restored: conv.restored });
        return;
      }
    }
    if (e.id && e.code === "rate_limited") {
      for (const c of e.session ? [this.sessions.get(e.session)] : this.sessions.values()) c?.holdFrom(now, e.id);
    }
    if (e.id && MESSAGE_REFUSED.has(e.code)) {
      const convs = e.session ? [this.sessions.get(e.session)] : [...this.sessions.values()];
      for (const c of convs) if (c && c.refuse(e.id, e.code)) refused = true;
    }
    this.notice({ kind: "error", code: e.code, message: e.message, session: e.session, id: e.id, fatal: e.fatal, refused });
  }

  // --- timers ---

  /** When handleTimeout() is next needed (same clock as `now`), or Infinity. */
  nextTimeout() {
    const l = this.link;
    let t = Infinity;
    if (l.state === "connecting") t = l.since + LIMITS.HANDSHAKE_TIMEOUT;
    else if (l.state === "online") t = Math.min(Math.min(l.lastTx, l.lastRx) + LIMITS.PING_INTERVAL, l.lastRx + LIMITS.IDLE_TIMEOUT);
    else if (l.state === "reconnecting") t = l.at;
    for (const c of this.sessions.values()) t = Math.min(t, c.nextTimeout(this.online));
    return t;
  }

  handleTimeout(now) {
    const l = this.link;
    if ((l.state === "connecting" && now >= l.since + LIMITS.HANDSHAKE_TIMEOUT) || (l.state === "online" && now >= l.lastRx + LIMITS.IDLE_TIMEOUT)) {
      // A dead link: close it (1001) and reconnect with backoff.
      this.out.push({ type: "close", code: 1001 });
      this.handleClose(now, null);
    } else if (l.state === "online" && now >= Math.min(l.lastTx, l.lastRx) + LIMITS.PING_INTERVAL) {
      this.nonce++;
      this.transmit(now, { type: "ping", nonce: this.nonce });
    } else if (l.state === "reconnecting" && now >= l.at) {
      this.startConnecting(now);
    }
    for (const c of this.sessions.values()) {
      for (const frame of c.handleTimeout(now, this.online)) this.transmit(now, frame);
    }
  }

  startConnecting(now) {
    this.link = { ...this.link, state: "connecting", since: now, at: null };
    this.out.push({ type: "connect" });
  }

  /** "Retry now": reconnect at once while waiting to reconnect or after a close. */
  reconnectNow(now) {
    if (this.link.state === "reconnecting" || this.link.state === "closed") {
      if (this.link.state === "closed") this.attempts = 0;
      this.startConnecting(now);
    }
  }

  // --- user intents; each returns an error string, or null when done ---

  setPresence(now, presence) {
    if (!PRESENCES.includes(presence)) return "unknown presence";
    this.wantedPresence = presence;
    if (this.online) this.transmit(now, { type: "set_presence", presence });
    return null;
  }

  accept(now, session) {
    if (!this.online) return "not connected";
    const offer = this.offers.get(session);
    if (!offer) return "no such offer";
    this.offers.delete(session);
    if (!this.sessions.has(session)) this.sessions.set(session, new Conversation(session, { offer }));
    this.transmit(now, { type: "accept", session });
    return null;
  }

  decline(now, session) {
    if (!this.online) return "not connected";
    if (!this.offers.delete(session)) return "no such offer";
    this.transmit(now, { type: "decline", session });
    return null;
  }

  /**
   * Sends a chat message; it is kept and resent (same id) until acknowledged. Returns
   * `{id}` or `{error}` (`required`, `too_long`, `control_characters`, `not_writable`).
   */
  send(now, session, input) {
    const conv = this.sessions.get(session);
    if (!conv || !conv.writable) return { error: "not_writable" };
    const v = validateText(input);
    if (!v.ok) return { error: v.code, max: v.max };
    const msgId = this.newId();
    if (!isId(msgId)) throw new Error("newId() made an invalid id");
    const p = { id: msgId, text: v.text, sentAt: null };
    conv.outbox.push(p);
    conv.local.push({ id: msgId, text: v.text });
    conv.setOwn(msgId, null, "pending");
    if (this.online) {
      p.sentAt = now;
      this.transmit(now, conv.sendFrame(p));
      const typing = conv.localTyping(now, false);
      if (typing) this.transmit(now, typing);
    } else {
      conv.typingSentAt = null;
    }
    return { id: msgId };
  }

  /** The agent typed (`active`) or cleared the composer; throttled per TYPING_REFRESH. */
  setTyping(now, session, active) {
    const conv = this.sessions.get(session);
    if (!conv || !this.online || !conv.writable) return;
    const frame = conv.localTyping(now, active);
    if (frame) this.transmit(now, frame);
  }

  /** The agent sees the session: clears its unread count and sends `read` if new. */
  markRead(now, session) {
    const conv = this.sessions.get(session);
    if (!conv) return;
    conv.unread = 0;
    if (!this.online) return;
    const receipt = conv.takeReadReceipt();
    if (receipt) this.transmit(now, receipt);
  }

  end(now, session) {
    if (!this.online) return "not connected";
    const conv = this.sessions.get(session);
    if (!conv || conv.ended) return "no such session";
    conv.endRequested = true;
    this.transmit(now, { type: "end", session });
    return null;
  }

  /** Declines the call ringing in `session`. */
  declineCall(now, session) {
    return this.callSignal(now, session, { op: "hangup", reason: "declined" });
  }

  /** Accepts the call ringing in `session`; the visitor's offer follows (§10.1). */
  acceptCall(now, session) {
    return this.callSignal(now, session, { op: "accept" });
  }

  /**
   * Sends a signal (answer, ice, media, device_changed, hangup) for the current call in
   * `session`; returns an error text, or null.
   */
  callSignal(now, session, signal) {
    const conv = this.sessions.get(session);
    if (!this.online || !conv || !conv.call) return "no call";
    this.transmit(now, { type: "call", session, signal: { ...signal, call: conv.call.id } });
    return null;
  }

  /** Drops a session from the console: ended, left, or never populated. */
  forget(session) {
    const conv = this.sessions.get(session);
    if (conv && (conv.ended || conv.left || conv.last === 0)) this.sessions.delete(session);
  }
}
