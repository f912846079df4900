// The agent's side of an audio/video call (protocol §10): one RTCPeerConnection per call,
// answering the visitor's offers (the agent is the polite side of perfect negotiation),
// trickled ICE both ways, mute, camera, device switches without dropping the call.
//
// The call does not talk to the server itself: what it must send goes through `onSignal`
// (the console passes it to the AgentClient), and what the visitor sent comes in through
// `handle`, in order.

/** Device choices of this browser, remembered across calls (the agent's own machine). */
const DEVICES_KEY = "interact.console.devices";

export function savedDevices() {
  try {
    const v = JSON.parse(localStorage.getItem(DEVICES_KEY) ?? "{}");
    return typeof v === "object" && v !== null ? v : {};
  } catch {
    return {};
  }
}

function saveDevices(choice) {
  try {
    localStorage.setItem(DEVICES_KEY, JSON.stringify(choice));
  } catch {
    // Storage may be off; the choice then lasts for this call.
  }
}

/** Lists microphones, cameras and speakers (labels once permission was given). */
export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  const of = (kind) => all.filter((d) => d.kind === kind).map((d) => ({ id: d.deviceId, label: d.label }));
  return { audioinput: of("audioinput"), videoinput: of("videoinput"), audiooutput: of("audiooutput") };
}

export class AgentCall {
  /**
   * @param {object} o
   * @param {"audio"|"video"} o.media what the visitor asked for
   * @param {RTCIceServer[]} o.iceServers
   * @param {(signal: object) => void} o.onSignal sends a signal (without `call`)
   * @param {() => void} o.onChange something to show changed
   * @param {(why: string) => void} o.onFailed media could not be set up or was lost
   */
  constructor({ media, iceServers, onSignal, onChange, onFailed }) {
    this.media = media;
    this.onSignal = onSignal;
    this.onChange = onChange;
    this.onFailed = onFailed;
    this.devices = savedDevices();
    this.muted = false;
    this.cameraOn = media === "video";
    /** The visitor's camera (and microphone) and screen share, as streams to show. */
    this.remote = new MediaStream();
    this.screen = null;
    this.local = null;
    this.closed = false;
    this.queue = Promise.resolve();
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.addEventListener("icecandidate", (e) => {
      const c = e.candidate;
      const candidate = { candidate: c ? c.candidate : "" };
      if (c && c.sdpMid != null) candidate.sdp_mid = c.sdpMid;
      if (c && c.sdpMLineIndex != null) candidate.sdp_m_line_index = c.sdpMLineIndex;
      this.onSignal({ op: "ice", candidate });
    });
    this.pc.addEventListener("track", (e) => this.remoteTrack(e.track, e.transceiver));
    this.pc.addEventListener("connectionstatechange", () => {
      if (this.pc.connectionState === "failed") this.fail("the connection to the visitor failed");
      this.onChange();
    });
    /** Video transceivers by arrival: the first carries the camera, later ones the screen. */
    this.videoMids = [];
  }

  constraints() {
    const audio = this.devices.audioinput ? { deviceId: { exact: this.devices.audioinput } } : true;
    const video = this.devices.videoinput ? { deviceId: { exact: this.devices.videoinput } } : true;
    return { audio, video: this.media === "video" ? video : false };
  }

  /** Opens the microphone (and camera): before accepting, so the answer carries them. */
  async open() {
    try {
      this.local = await navigator.mediaDevices.getUserMedia(this.constraints());
    } catch (e) {
      if (e && e.name === "OverconstrainedError") {
        // A remembered device is gone: fall back to the defaults.
        this.devices = {};
        this.local = await navigator.mediaDevices.getUserMedia(this.constraints());
      } else {
        throw e;
      }
    }
    for (const track of this.local.getTracks()) this.pc.addTrack(track, this.local);
    this.onChange();
  }

  /** Takes the visitor's signals in order (each waits for the one before). */
  handle(signal) {
    this.queue = this.queue.then(() => this.apply(signal)).catch((e) => this.fail(`signalling failed: ${e && e.message}`));
  }

  async apply(signal) {
    if (this.closed) return;
    switch (signal.op) {
      case "offer":
        // Polite: an offer of our own (we make none today) gives way to the visitor's.
        await this.pc.setRemoteDescription({ type: "offer", sdp: signal.sdp });
        await this.pc.setLocalDescription();
        this.onSignal({ op: "answer", sdp: this.pc.localDescription.sdp });
        break;
      case "answer":
        if (this.pc.signalingState === "have-local-offer") {
          await this.pc.setRemoteDescription({ type: "answer", sdp: signal.sdp });
        }
        break;
      case "ice": {
        const c = signal.candidate;
        if (c.candidate === "") {
          await this.pc.addIceCandidate();
        } else {
          await this.pc.addIceCandidate({
            candidate: c.candidate,
            sdpMid: c.sdp_mid ?? undefined,
            sdpMLineIndex: c.sdp_m_line_index ?? undefined,
          });
        }
        break;
      }
      case "media":
        if (!signal.state.screen) this.screen = null;
        this.onChange();
        break;
      default:
        break;
    }
  }

  remoteTrack(track, transceiver) {
    if (track.kind === "audio") {
      this.remote.addTrack(track);
    } else {
      const mid = transceiver.mid;
      if (!this.videoMids.includes(mid)) this.videoMids.push(mid);
      if (this.videoMids.indexOf(mid) === 0) {
        for (const old of this.remote.getVideoTracks()) this.remote.removeTrack(old);
        this.remote.addTrack(track);
      } else {
        this.screen = new MediaStream([track]);
        track.addEventListener("ended", () => {
          this.screen = null;
          this.onChange();
        });
      }
    }
    this.onChange();
  }

  mediaState() {
    return { muted: this.muted, camera: this.media === "video" && this.cameraOn, screen: false };
  }

  setMuted(muted) {
    this.muted = muted;
    for (const t of this.local?.getAudioTracks() ?? []) t.enabled = !muted;
    this.onSignal({ op: "media", state: this.mediaState() });
    this.onChange();
  }

  setCamera(on) {
    if (this.media !== "video") return;
    this.cameraOn = on;
    for (const t of this.local?.getVideoTracks() ?? []) t.enabled = on;
    this.onSignal({ op: "media", state: this.mediaState() });
    this.onChange();
  }

  /**
   * Switches the microphone (`audioinput`), camera (`videoinput`) or speaker
   * (`audiooutput`, applied by the console to its media elements) during the call.
   */
  async switchDevice(kind, deviceId) {
    this.devices = { ...this.devices, [kind]: deviceId };
    saveDevices(this.devices);
    if (kind !== "audiooutput" && this.local) {
      const trackKind = kind === "audioinput" ? "audio" : "video";
      if (trackKind === "video" && this.media !== "video") return;
      const constraints = { deviceId: { exact: deviceId } };
      const stream = await navigator.mediaDevices.getUserMedia({ [trackKind]: constraints });
      const [track] = stream.getTracks();
      track.enabled = trackKind === "audio" ? !this.muted : this.cameraOn;
      const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === trackKind);
      if (sender) await sender.replaceTrack(track);
      for (const old of this.local.getTracks().filter((t) => t.kind === trackKind)) {
        this.local.removeTrack(old);
        old.stop();
      }
      this.local.addTrack(track);
    }
    this.onSignal({ op: "device_changed", kind: { audioinput: "audio_input", videoinput: "video_input", audiooutput: "audio_output" }[kind] });
    this.onChange();
  }

  fail(why) {
    if (this.closed) return;
    this.onFailed(why);
  }

  /** Stops the devices and the connection (the hang-up signal is the console's). */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.pc.close();
  }
}
