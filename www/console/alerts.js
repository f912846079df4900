// Alerts: a short sound and a desktop notification (the Notification API) for a new
// offer and for a visitor's new message, while the agent is not looking at the console
// (another tab or window). Each is the agent's choice, a toggle in the top bar kept in
// localStorage; notifications ask the browser's permission on the click that turns them
// on. Messages replayed after a reload (older than a minute) stay quiet. What a visitor
// wrote goes into a notification's text, never into markup.

import { t } from "./i18n.js";

const SOUND_KEY = "interact.console.sound";
const NOTIFY_KEY = "interact.console.notify";
/** Events older than this are a replay, not news. */
const FRESH_MS = 60_000;
const PREVIEW = 120;

const $ = (id) => /** @type {HTMLButtonElement} */ (document.getElementById(id));

let sound = false;
let notify = false;
/** @type {AudioContext | null} */
let audio = null;

function saved(key) {
  try {
    return localStorage.getItem(key) === "on";
  } catch {
    return false;
  }
}

function save(key, on) {
  try {
    localStorage.setItem(key, on ? "on" : "off");
  } catch {
    // Storage refused (private mode): the choice lasts for this page.
  }
}

/** Shows the toggles' state (again, after the language changed). */
export function showAlerts() {
  const s = $("alert-sound");
  const n = $("alert-notify");
  s.setAttribute("aria-pressed", String(sound));
  n.setAttribute("aria-pressed", String(notify));
  const supported = "Notification" in window;
  n.hidden = !supported;
  n.title = t(supported && Notification.permission === "denied" ? "alerts.notify_blocked" : "alerts.notify_title");
}

/** Reads the agent's choices and wires the two toggles. */
export function setupAlerts() {
  sound = saved(SOUND_KEY);
  notify = saved(NOTIFY_KEY) && "Notification" in window && Notification.permission === "granted";
  $("alert-sound").addEventListener("click", () => {
    sound = !sound;
    save(SOUND_KEY, sound);
    if (sound) beep();
    showAlerts();
  });
  $("alert-notify").addEventListener("click", async () => {
    if (notify) {
      notify = false;
    } else if ("Notification" in window) {
      const permission =
        Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
      notify = permission === "granted";
    }
    save(NOTIFY_KEY, notify);
    showAlerts();
  });
  showAlerts();
}

function beep() {
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch {
    // No audio output: the notification (if on) still tells.
  }
}

function clip(text) {
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW - 1)}…` : text;
}

/**
 * What an event of the machine calls for: `{title, body, session}` for a new offer or a
 * visitor's new message, else null.
 */
export function alertOf(e, now = Date.now()) {
  if (e.type === "offer") {
    const who = e.visitor?.display_name ?? t("alerts.a_visitor");
    const what = t(e.call ? (e.call === "video" ? "alerts.video_call" : "alerts.call") : "alerts.new_chat");
    const body = e.first_message ?? t("alerts.via", { target: e.target?.display_name ?? "" });
    return { title: t("alerts.title", { what, who }), body: clip(body), session: e.session };
  }
  if (e.type === "timeline" && e.event?.kind === "message" && e.event.from === "visitor" && now - e.at < FRESH_MS) {
    return { title: e.event.author ?? t("chat.visitor"), body: clip(e.event.text), session: e.session };
  }
  return null;
}

/** Alerts for `e` if it calls for it and the agent is looking elsewhere. */
export function alertFor(e, onOpen) {
  const a = alertOf(e);
  if (!a || (document.visibilityState === "visible" && document.hasFocus())) return;
  if (sound) beep();
  if (notify && "Notification" in window && Notification.permission === "granted") {
    const n = new Notification(a.title, { body: a.body, tag: a.session });
    n.onclick = () => {
      window.focus();
      onOpen(a.session);
      n.close();
    };
  }
}
