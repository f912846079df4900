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
