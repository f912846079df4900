// Types of the host page's JavaScript API, the global `Interact` that the Interact loader
// (`/widget/loader.js`) defines. Reference it from a TypeScript site with
// `/// <reference path="./interact-loader.d.ts" />` or copy it into your types folder.

/** What each event passes to its listeners. */
export interface InteractEvents {
  /** The widget was opened (by the visitor, `open()` or `toggle()`). */
  opened: undefined;
  /** The widget was closed (minimised by the visitor, `close()` or `toggle()`). */
  closed: undefined;
  /** Agent messages the visitor has not seen yet; `0` once they are seen. */
  unread: number;
  /** A chat session started, or (`resumed: true`) one was resumed after a page reload. */
  "session-started": { resumed: boolean };
  /** The chat session ended. */
  "session-ended": undefined;
}

/** An event name of {@link InteractApi.on}. */
export type InteractEvent = keyof InteractEvents;

/** Who the visitor is, for {@link InteractApi.identify}. */
export interface InteractIdentity {
  /** Your website's id of the visitor: 1 to 128 characters, no control characters. */
  id: string;
  /** HMAC-SHA256 of `id` under the embed code's identity secret, as 64 hex digits. */
  hash: string;
  /** The visitor's name, to fill the pre-chat form. */
  name?: string;
  /** The visitor's email address, to fill the pre-chat form. */
  email?: string;
}

/** The global `Interact` object on a page with the snippet. */
export interface InteractApi {
  /** Opens the widget (does nothing if it is open; shows the refusal where the embed code
   * is not allowed on this page). */
  open(): void;
  /** Closes (minimises) the widget; a running chat goes on. */
  close(): void;
  /** Opens the widget if it is closed, else closes it. */
  toggle(): void;
  /** Calls `listener` on each `event`; returns a function that removes it again. */
  on<E extends InteractEvent>(event: E, listener: (detail: InteractEvents[E]) => void): () => void;
  /** Removes a listener added with {@link on}. */
  off<E extends InteractEvent>(event: E, listener: (detail: InteractEvents[E]) => void): void;
  /**
   * Sets attributes the agent sees beside the chat (with the page's address, which the
   * loader adds itself). Merged into those set before; `null` removes one. Keys have 1 to
   * 40 characters, values are strings of at most 200, at most 20 attributes, no control
   * characters: anything else is refused with a console warning. They go with the next
   * chat the visitor starts; a chat already running keeps those it started with.
   */
  setAttributes(attributes: Record<string, string | null>): void;
  /**
   * Identifies the visitor as your website knows them (signed in), so that they see
   * their earlier conversations, on any device, and agents see them as verified.
   * `hash` is the hex HMAC-SHA256 of `id` under the embed code's identity secret
   * (Administration → Embed codes → Identity secret), computed by your server, never in
   * the browser: a wrong hash is refused and the visitor chats as a guest. `name` and
   * `email` fill the pre-chat form. Nothing is stored until the visitor starts a chat.
   */
  identify(visitor: InteractIdentity): void;
  /** Plays a short tone when an agent writes while the widget is closed (off unless the
   * snippet has `data-interact-sound="on"`). */
  setSound(on: boolean): void;
  /** Whether the widget is open. */
  isOpen(): boolean;
  /** Unread agent messages while the widget is closed (what the badge shows). */
  unread(): number;
}

declare global {
  interface Window {
    /** The Interact widget's API (or, before the loader ran, the stub that queues calls). */
    Interact: InteractApi;
  }
  /** The Interact widget's API. */
  var Interact: InteractApi;
}
