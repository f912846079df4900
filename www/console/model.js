// Interact agent console: what the console shows, kept from the events of the SDK's agent
// machine (the wasm package in ./pkg, `AgentConsole`). No DOM, no protocol: the machine
// decodes and encodes every frame, keeps the link, the outbox, receipts and gap recovery;
// this module only remembers what it reported, per session, in the shape the page renders
// (transcript items, visitor details, delivery states, unread counts), as the widget's
// `view.rs` does for the visitor.

/** Delivery states of the agent's own messages, in order. */
const DELIVERY = ["pending", "sent", "delivered", "read"];
const rank = (state) => DELIVERY.indexOf(state);

/** One session the agent handles, as shown. */
export class Conversation {
  /**
   * @param {string} session
   * @param {object | null} offer the offer it came from (shown until `started` arrives)
   * @param {boolean} restored listed before a page reload; dropped if the machine does
   *   not confirm it
   */
  constructor(session, offer = null, restored = false) {
    this.session = session;
    this.offer = offer;
    this.restored = restored;
    this.visitor = offer ? { ...offer.visitor } : null;
    this.target = offer ? { ...offer.target } : null;
    this.consent = null;
    /** What the host page said: {page_url?, attributes?} from `started`, or null. */
    this.context = null;
    this.startedAt = null;
    /** Highest sequence number rendered (0: nothing yet, the accept is in flight). */
    this.last = 0;
    /** Transcript entries, append-only, in seq order. */
    this.items = [];
    /** Agents currently in the session: id -> display name. */
    this.agents = new Map();
    /** The agent left the session (transfer): read-only from then on. */
    this.left = false;
    this.ended = false;
    this.endReason = null;
    this.endRequested = false;
    /** Delivery state of the agent's own messages, by id. */
    this.states = new Map();
    /** Sequence numbers of the agent's own messages in the transcript, by id. */
    this.seqs = new Map();
    /** Ids of the messages sent from this page. */
    this.own = new Set();
    /** Messages sent from this page whose event is not in the transcript yet: {id, text}. */
    this.local = [];
    /** Messages the server refused or the end of the session cut off: {id, text, reason}. */
    this.failed = [];
    /** Why the server refused a message, by id (its error code). */
    this.refusals = new Map();
    /** Visitor and system messages not yet seen by the agent. */
    this.unread = 0;
    this.typing = false;
    /**
     * The visitor's call as the machine reported it, or null: {id, media, remote}, where
     * `remote` is the visitor's last media state.
     */
    this.call = null;
    /** The call the transcript shows as asked for (its `start` without a `hangup` yet). */
    this.transcriptCall = null;
    /** Call-first: the medium the visitor called with from the start, or null for a chat. */
    this.callFirst = offer?.call ?? null;
    /**
     * Call-first: this agent accepted the session, so the call it rang for is answered
     * as soon as the visitor places it: true until then.
     */
    this.answerFirstCall = false;
    /** The call to answer without asking (the call-first call of this agent), or null. */
    this.autoAnswer = null;
    /** Bumped whenever a delivery state or the local/failed lists change. */
    this.version = 0;
  }

  /** Whether the agent can still write in this session. */
  get writable() {
    return !this.ended && !this.left;
  }

  /** Delivery state of an own message id, or null. */
  stateOf(id) {
    return this.states.get(id) ?? null;
  }

  /** The agent sent a message from this page (the machine gave it `id`). */
  sent(id, text) {
    this.own.add(id);
    if (!this.seqs.has(id) && this.states.get(id) !== "failed") this.local.push({ id, text });
    this.version++;
  }

  setState(id, state) {
    const cur = this.states.get(id);
    if (state === "failed") {
      this.states.set(id, state);
      const i = this.local.findIndex((p) => p.id === id);
      if (i >= 0) {
        const [p] = this.local.splice(i, 1);
        this.failed.push({ id, text: p.text, reason: this.refusals.get(id) ?? null });
      }
    } else if (cur == null || rank(state) > rank(cur)) {
      this.states.set(id, state);
    } else {
      return;
    }
    this.version++;
  }

  /** The server said why it refused message `id`. */
  refused(id, code) {
    this.refusals.set(id, code);
    const f = this.failed.find((p) => p.id === id);
    if (f && f.reason == null) {
      f.reason = code;
      this.version++;
    }
  }

  /** One `timeline` event of the machine: delivered in order, exactly once. */
  deliver({ seq, at, event: ev }, me) {
    this.last = seq;
    this.restored = false;
    const base = { seq, at };
    switch (ev.kind) {
      case "started":
        this.visitor = { ...ev.visitor };
        this.consent = { ...ev.consent };
        this.target = { ...ev.target };
        this.callFirst = ev.call ?? null;
        this.context = ev.context ?? null;
        this.startedAt = at;
        this.items.push({ ...base, type: "started", visitor: this.visitor, target: this.target });
        break;
      case "message": {
        const mine = ev.from === "agent";
        if (mine) {
          this.seqs.set(ev.id, seq);
          const i = this.local.findIndex((p) => p.id === ev.id);
          if (i >= 0) {
            this.local.splice(i, 1);
            this.version++;
          }
        } else {
          this.unread++;
        }
        this.items.push({
          ...base,
          type: "message",
          id: ev.id,
          from: ev.from,
          author: ev.author ?? null,
          text: ev.text,
          mine,
          // Sent by this agent (as opposed to a colleague before a transfer).
          self: mine && (this.own.has(ev.id) || (me != null && ev.author === me.display_name)),
        });
        break;
      }
      case "attachment":
        // A file (an image or a PDF): shown by the page as a thumbnail or a link.
        if (ev.from !== "agent") this.unread++;
        this.items.push({
          ...base,
          type: "attachment",
          id: ev.id,
          from: ev.from,
          author: ev.author ?? null,
          name: ev.name,
          mime: ev.mime,
          size: ev.size,
          self: ev.from === "agent" && me != null && ev.author === me.display_name,
        });
        break;
      case "queued":
        this.items.push({ ...base, type: "queued", position: ev.position });
        break;
      case "agent_joined":
        this.agents.set(ev.agent.id, ev.agent.display_name);
        if (me && ev.agent.id === me.id) {
          // The session came back to this agent (transferred to them again).
          this.left = false;
          this.transferredTo = null;
          // Accepting a call-first offer was answering its ring.
          this.answerFirstCall = this.callFirst != null;
        }
        this.items.push({ ...base, type: "agent_joined", agent: ev.agent, self: me?.id === ev.agent.id });
        break;
      case "agent_left":
        this.agents.delete(ev.agent.id);
        if (me && ev.agent.id === me.id) {
          this.left = true;
          this.call = null; // the server ends any call when the agent leaves
        }
        this.items.push({ ...base, type: "agent_left", agent: ev.agent, self: me?.id === ev.agent.id });
        break;
      case "transferred": {
        // Names are shown as text. The agent's own `agent_left` follows a transfer of theirs.
        const self = me != null && ev.by?.id === me.id;
        if (self) {
          this.transferredTo = ev.to.display_name;
          this.transferPending = null;
        }
        // The session is for its new target from now on.
        this.target = { kind: ev.to.kind, display_name: ev.to.display_name };
        this.items.push({ ...base, type: "transferred", by: ev.by ?? null, to: ev.to, self });
        break;
      }
      case "receipt":
        // Also for messages sent before a reload, which the machine no longer tracks.
        if (ev.by !== "agent") {
          for (const [id, s] of this.seqs) if (s <= ev.up_to) this.setState(id, ev.state);
        }
        break;
      case "undelivered":
        // Stored, and the visitor's channel (WhatsApp) never delivered it.
        if (ev.from === "agent") this.setState(ev.message, "failed");
        this.items.push({ ...base, type: "undelivered", from: ev.from, reason: ev.reason });
        break;
      case "call": {
        const s = ev.signal;
        if (s.op === "start" && ev.from === "visitor") {
          if (this.answerFirstCall) {
            this.answerFirstCall = false;
            this.autoAnswer = s.call;
          }
          if (this.transcriptCall == null) {
            this.transcriptCall = s.call;
            this.items.push({ ...base, type: "call_start", media: s.media });
          }
        } else if (s.op === "hangup" && s.call === this.transcriptCall) {
          this.transcriptCall = null;
          this.items.push({ ...base, type: "call_end", reason: s.reason, by: ev.from });
        }
        break;
      }
      case "ended":
        this.ended = true;
        this.endReason = ev.reason;
        this.typing = false;
        this.call = null;
        this.transcriptCall = null;
        // What was still waiting for the server is not sent any more.
        for (const p of this.local) {
          if (this.states.get(p.id) === "pending") this.failed.push({ id: p.id, text: p.text, reason: "ended" });
        }
        this.local = this.local.filter((p) => this.states.get(p.id) !== "pending");
        this.version++;
        this.items.push({ ...base, type: "ended", reason: ev.reason });
        break;
      default:
        // Unknown events only take their sequence number.
        break;
    }
  }

  /** A `call` event of the machine for this session. */
  callEvent(e) {
    switch (e.event) {
      case "incoming":
        this.call = { id: e.call, media: e.media, remote: null };
        break;
      case "remote_media":
        if (this.call?.id === e.call) this.call.remote = e.state;
        break;
      case "ended":
        if (this.call?.id === e.call) this.call = null;
        break;
      default:
        break;
    }
  }
}

/**
 * Everything the console shows, from the machine's events: the link, who signed in,
 * presence, offers and sessions. `apply(event)` returns the notices to show.
 */
export class ConsoleModel {
  /**
   * @param {object} o
   * @param {{id: string, display_name: string} | null} o.me who signed in, if known
   * @param {string} o.presence the presence the agent chose
   * @param {string[]} o.restore sessions listed before a page reload, in their order
   */
  constructor({ me, presence, restore }) {
    this.link = { state: "connecting" };
    /** The link was lost since it was last online (a `connecting` is a reconnect). */
    this.lost = false;
    this.me = me;
    /** Presence the agent chose; `presence` is what the server last confirmed. */
    this.wantedPresence = presence;
    this.presence = null;
    /** ICE servers for calls (`RTCIceServer` objects), the latest the server sent. */
    this.iceServers = [];
    /** The server said the sign-in is no longer valid (a close follows). */
    this.unauthorized = false;
    /** Offers not yet accepted, declined or withdrawn, by session. */
    this.offers = new Map();
    /** Sessions, in the order they came. */
    this.sessions = new Map();
    /** Sessions the agent closed here that the machine still holds (left or never joined). */
    this.dismissed = new Set();
    for (const s of restore) {
      if (typeof s === "string" && !this.sessions.has(s)) this.sessions.set(s, new Conversation(s, null, true));
    }
  }

  get online() {
    return this.link.state === "online";
  }

  /** The session's model, made on first mention. */
  conv(session) {
    let conv = this.sessions.get(session);
    if (!conv) {
      conv = new Conversation(session, this.offers.get(session) ?? null);
      this.sessions.set(session, conv);
    }
    return conv;
  }

  /** A `message_state`, `typing`, `timeline` or `call` event about a session closed here. */
  ignored(session) {
    return this.dismissed.has(session);
  }

  /** Takes one event of the machine; returns the notices it calls for. */
  apply(e) {
    const notices = [];
    switch (e.type) {
      case "link":
        this.link = e;
        if (e.state === "online") {
          this.lost = false;
        } else if (e.state === "reconnecting" || e.state === "closed") {
          this.lost = true;
          this.presence = null;
          // The server offers them again after a reconnect.
          this.offers.clear();
        }
        break;
      case "signed_in":
        this.me = e.agent;
        break;
      case "presence":
        this.presence = e.presence;
        // The server may set it too (away after missed offers): that is the choice now.
        this.wantedPresence = e.presence;
        break;
      case "ice_servers":
        this.iceServers = e.servers;
        break;
      case "offer":
        this.offers.set(e.session, e);
        break;
      case "offer_withdrawn":
        this.offers.delete(e.session);
        break;
      case "sessions": {
        const held = new Set();
        for (const { session } of e.sessions) {
          held.add(session);
          if (!this.dismissed.has(session)) this.conv(session);
        }
        for (const session of [...this.sessions.keys()]) if (!held.has(session)) this.sessions.delete(session);
        for (const session of [...this.dismissed]) if (!held.has(session)) this.dismissed.delete(session);
        break;
      }
      case "timeline":
        if (this.ignored(e.session)) break;
        this.offers.delete(e.session);
        this.conv(e.session).deliver(e, this.me);
        break;
      case "message_state":
        if (!this.ignored(e.session)) this.conv(e.session).setState(e.id, e.state);
        break;
      case "typing":
        if (!this.ignored(e.session)) this.conv(e.session).typing = e.active;
        break;
      case "call":
        if (!this.ignored(e.session)) this.conv(e.session).callEvent(e);
        break;
      case "accept_refused":
        this.sessions.delete(e.session);
        notices.push({ kind: "accept_refused", code: e.code });
        break;
      case "error": {
        if (e.fatal && e.code === "unauthorized") this.unauthorized = true;
        const conv = e.session ? this.sessions.get(e.session) : null;
        let refused = false;
        if (conv && e.id != null) {
          conv.refused(e.id, e.code);
          refused = conv.stateOf(e.id) === "failed";
        }
        // A transfer the server refused: said in its words (plain text).
        if (conv?.transferPending && e.id == null && ["not_allowed", "invalid_field", "session_ended"].includes(e.code)) {
          conv.transferPending = null;
          notices.push({ kind: "transfer_refused", code: e.code, message: e.message });
          break;
        }
        notices.push({ kind: "error", code: e.code, message: e.message, refused });
        break;
      }
      default:
        break;
    }
    return notices;
  }

  /** The agent closed the session's tab; the machine forgets it if it has ended. */
  dismiss(session) {
    const conv = this.sessions.get(session);
    if (!conv) return;
    this.sessions.delete(session);
    if (!conv.ended) this.dismissed.add(session);
  }

  /** Sessions to list again after a reload: not ended, not closed here. */
  openSessions() {
    const open = [];
    for (const [s, c] of this.sessions) if (!c.ended) open.push(s);
    return open;
  }
}
