// The widget frame's script: mounts the wasm widget and relays between it and the host
// page's loader. Messages go only to the exact host origin the server checked against the
// embed code's Domain Template (it is also the frame's CSP frame-ancestors), and only
// messages from that origin's window are read.
import init, { mountWidget } from "./pkg/interact_widget_frame.js";

const body = document.body;
const { code, host, lang } = body.dataset;
// Embedded by a host page's loader; not on the Preview page (framed by this server).
const embedded = window.parent !== window && host !== location.origin;
const toHost = embedded
  ? (type, value) => window.parent.postMessage({ interact: 1, type, value }, host)
  : undefined;

await init();
const widget = mountWidget(
  document.getElementById("interact"),
  { server: location.origin, code, lang },
  toHost,
);
if (embedded) widget.setVisible(false);
window.addEventListener("message", (e) => {
  if (e.origin !== host || e.source !== window.parent) return;
  const m = e.data;
  if (!m || m.interact !== 1) return;
  if (m.type === "open") widget.setVisible(true);
  else if (m.type === "hidden") widget.setVisible(false);
  else if (m.type === "context") {
    // The page address and the website's attributes for the next chat (the loader
    // checked the bounds already; the SDK and the server check them again).
    try {
      widget.setContext(m.value);
    } catch (err) {
      console.warn("Interact: " + err.message);
    }
  } else if (m.type === "identify") {
    // Who the website says the visitor is; the server checks the hash.
    try {
      widget.identify(m.value);
    } catch (err) {
      console.warn("Interact: " + err.message);
    }
  }
});
body.dataset.ready = "true";
performance.mark("interact:widget-mounted");
toHost?.("ready", widget.hasSession());
