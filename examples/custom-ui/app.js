// A custom UI on the Interact JavaScript SDK. Everything Interact-specific is the
// InteractClient API; the rest is plain DOM code. Names and messages are always set with
// textContent, never as HTML.
//
// The SDK is served by the Interact server at /widget/pkg/ (ES module, TypeScript
// declarations in interact_widget.d.ts). `?server=` and `?code=` override the demo's.
const params = new URLSearchParams(location.search);
const SERVER = params.get("server") ?? "http://127.0.0.1:8080";
const CODE = params.get("code") ?? "ie1_interactdemowidgetsupporta";

const { default: init, InteractClient } = await import(`${SERVER}/widget/pkg/interact_widget.js`);
await init();

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };
const line = (cls, who, text) => {
  const li = document.createElement("li");
  li.className = cls;
  if (who) {
    const w = document.createElement("span");
    w.className = "who";
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
  return li;
};

const client = new InteractClient({ server: SERVER, code: CODE });
let config = null;
let agentName = "Agent";
let connected = false;
let inCall = false;
const mine = new Map(); // message id -> its state element

// Audio and video calls: offered only for what the target enables, once an agent is there.
const showCallButtons = () => {
  const has = (m) => config?.modalities.includes(m);
  $("calls").hidden = inCall || !connected || !(has("audio") || has("video"));
  $("audio-call").hidden = !has("audio");
  $("video-call").hidden = !has("video");
  $("screen").hidden = !has("screen_share");
};
const callStatus = (text) => { $("call-status").textContent = text; };
const setVideo = (id, stream) => {
  const v = $(id);
  if (v.srcObject !== stream) v.srcObject = stream;
  if (stream) v.play().catch(() => {}); // a newer stream may interrupt it: harmless
};

client.onEvent((e) => {
  switch (e.type) {
    case "config":
      config = e.config;
      $("target").textContent = config.target.display_name;
      $("policy").textContent = config.privacy.text;
      break;
    case "link":
      if (e.state === "reconnecting") status("Connection lost, reconnecting…");
      break;
    case "state":
      $("start").hidden = !(e.state === "form" || e.state === "starting");
      $("chat").hidden = !["queued", "connected", "ended"].includes(e.state);
      if (e.state === "form") status(config?.availability === "open" ? "We are here." : "Nobody is available right now.");
      if (e.state === "queued") status(e.position ? `You are number ${e.position} in line.` : "Waiting for someone…");
      if (e.state === "connected") { agentName = e.agent.display_name; status(`Talking to ${agentName}.`); }
      if (e.state === "ended") { status("This conversation has ended."); $("send").hidden = true; }
      connected = e.state === "connected";
      showCallButtons();
      break;
    case "call":
      inCall = e.state !== "ended";
      $("call").hidden = !inCall;
      showCallButtons();
      if (e.state === "calling") callStatus(`Calling ${agentName}…`);
      if (e.state === "accepted") callStatus("Connecting…");
      if (e.state === "connected") callStatus(`In a call with ${agentName}.`);
      if (e.state === "ended") line("system", "", e.reason === "normal" ? "The call ended." : `The call ended (${e.reason}).`);
      break;
    case "local_stream":
      setVideo("self", e.stream);
      break;
    case "remote_stream":
      setVideo("remote", e.stream);
      break;
    case "speaker":
      $("remote").setSinkId?.(e.id).catch(() => {});
      break;
    case "local_media":
      $("mute").setAttribute("aria-pressed", String(e.muted));
      $("mute").textContent = e.muted ? "Unmute" : "Mute";
      $("screen").setAttribute("aria-pressed", String(e.screen));
      $("screen").textContent = e.screen ? "Stop sharing" : "Share screen";
      break;
    case "call_media":
      callStatus(e.muted ? `${agentName} is muted.` : `In a call with ${agentName}.`);
      break;
    case "call_problem":
      callStatus(`Call problem: ${e.problem}`);
      break;
    case "form_rejected":
      $("form-error").textContent = e.fields.map((f) => `${f.field}: ${f.code}`).join(", ");
      break;
    case "event": {
      const ev = e.event;
      if (ev.kind === "message") {
        if (ev.from === "visitor") {
          if (mine.has(ev.id)) return; // shown when sent
          mine.set(ev.id, line("mine", "You", ev.text).appendChild(document.createElement("span")));
        } else {
          line(ev.from, ev.author ?? agentName, ev.text);
          $("typing").textContent = "";
          client.markRead();
        }
      } else if (ev.kind === "agent_joined") {
        line("system", "", `${ev.agent.display_name} is here.`);
      }
      break;
    }
    case "message_state": {
      const el = mine.get(e.id);
      if (el) { el.className = "state"; el.textContent = e.state; }
      break;
    }
    case "typing":
      $("typing").textContent = e.active ? `${agentName} is typing…` : "";
      break;
    case "error":
      status(`Error: ${e.message}`);
      break;
  }
});

$("start").addEventListener("submit", (ev) => {
  ev.preventDefault();
  $("form-error").textContent = "";
  try {
    client.startChat({
      displayName: $("name").value,
      email: $("email").value,
      consent: $("consent").checked ? config.privacy.version : null,
    });
  } catch (err) {
    // InvalidForm: the SDK checked the form with the server's rules; nothing was sent.
    $("form-error").textContent = (err.fields ?? []).map((f) => `${f.field}: ${f.code}`).join(", ") || err.message;
  }
});

$("send").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  try {
    const id = client.send(text);
    mine.set(id, line("mine", "You", text).appendChild(document.createElement("span")));
    $("text").value = "";
    client.setTyping(false);
  } catch (err) {
    status(err.message);
  }
});
$("text").addEventListener("input", () => client.setTyping($("text").value.trim() !== ""));
$("end").addEventListener("click", () => client.end());

const call = async (media) => {
  try {
    await client.startCall(media); // asks for the microphone (and camera) first
  } catch (err) {
    // NotAllowed, NotFound, InUse, Unsupported (devices) or ApiMisuse (no agent yet).
    status(`${err.name}: ${err.message}`);
  }
};
$("audio-call").addEventListener("click", () => call("audio"));
$("video-call").addEventListener("click", () => call("video"));
$("mute").addEventListener("click", () => client.setMuted($("mute").getAttribute("aria-pressed") !== "true"));
$("screen").addEventListener("click", () => client.shareScreen($("screen").getAttribute("aria-pressed") !== "true"));
$("hangup").addEventListener("click", () => client.hangup());

try {
  await client.checkConfig(); // says plainly if this page may not use the code
  client.connect();
} catch (err) {
  status(`${err.name}: ${err.message}`);
}
