// The agent's side of an audio/video call (protocol §10): one RTCPeerConnection per call,
// answering the visitor's offers (the agent is the polite side of perfect negotiation),
// trickled ICE both ways, mute, camera, device switches without dropping the call.
//
// The call does not talk to the server itself, nor does it see a protocol frame: the
// SDK's call machine (in the console's wasm package) tells it what the visitor did,
// through `handle` with the machine's call events in order, and what the visitor must
// learn goes out through the `send` callbacks, which the console hands to the machine.
//
// A network change mid-call (protocol §10.2): when the connection goes `disconnected` or
// `failed`, the visitor, who makes the offers, restarts ICE with a new offer; the agent
// answers it like any renegotiation and shows "Reconnecting the call…" meanwhile. Only if
// the connection has not come back after GIVE_UP_MS (the visitor's restarts take about
// 30 s before it hangs up itself) does the agent's side give the call up.

/** How long a broken connection may wait for the visitor's ICE restart. */
const GIVE_UP_MS = 45_000;

/** How often the call's quality is sampled (`getStats()`), as the widget does. */
const SAMPLE_MS = 2_000;

/**
 * The figures of one `getStats()` report the console's machine takes (`CallStatsReading`,
 * integers): the selected candidate pair's round-trip time, the inbound streams' counters
 * summed, their largest jitter and the inbound video's frame size.
 */
export function statsReading(report) {
  const r = {};
  const ms = (s) => Math.round(s * 1000);
  const max = (key, v) => {
    if (typeof v === "number" && v >= 0) r[key] = Math.max(r[key] ?? 0, Math.round(v));
  };
  const sum = (key, v) => {
    if (typeof v === "number") r[key] = (r[key] ?? 0) + Math.max(0, Math.round(v));
  };
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
      if (typeof s.currentRoundTripTime === "number") max("rtt_ms", ms(s.currentRoundTripTime));
    } else if (s.type === "inbound-rtp") {
      sum("packets_received", s.packetsReceived);
      sum("packets_lost", s.packetsLost);
      sum("bytes_received", s.bytesReceived);
      if (typeof s.jitter === "number") max("jitter_ms", ms(s.jitter));
      max("width_px", s.frameWidth);
      max("height_px", s.frameHeight);
    }
  });
  return r;
}

/** The `a=ice-ufrag` of an SDP (its first), or null. */
export function iceUfrag(sdp) {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp ?? "");
  return m ? m[1] : null;
}

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
   * @param {string} o.id the call
   * @param {"audio"|"video"} o.media what the visitor asked for
   * @param {RTCIceServer[]} o.iceServers
   * @param {object} o.send what the visitor must learn, for the machine to say
   * @param {(sdp: string) => void} o.send.answer the local answer
   * @param {(candidate: RTCIceCandidateInit | null) => void} o.send.candidate a local ICE
   *   candidate (null: gathering is complete)
   * @param {(state: {muted: boolean, camera: boolean, screen: boolean}) => void} o.send.media
   * @param {(kind: "audioinput"|"videoinput"|"audiooutput") => void} o.send.deviceChanged
   * @param {(reading: object) => object | null} o.send.stats a `getStats()` reading; gives
   *   the call's quality now (`CallQuality`)
   * @param {() => void} o.onChange something to show changed
   * @param {(why: string) => void} o.onFailed media could not be set up or was lost
   */
  constructor({ id, media, iceServers, send, onChange, onFailed }) {
    this.id = id;
    this.media = media;
    this.send = send;
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
      if (!this.closed) this.send.candidate(e.candidate ? e.candidate.toJSON() : null);
    });
    this.pc.addEventListener("track", (e) => this.remoteTrack(e.track, e.transceiver));
    /** ICE restarts answered in this call (remote offers with new ICE credentials). */
    this.iceRestarts = 0;
    /** The media path broke, or a restart is under way: "Reconnecting the call…". */
    this.reconnecting = false;
    this.giveUp = null;
    const onState = () => this.connectionState();
    this.pc.addEventListener("connectionstatechange", onState);
    this.pc.addEventListener("iceconnectionstatechange", onState);
    /** Video transceivers by arrival: the first carries the camera, later ones the screen. */
    this.videoMids = [];
    /** The call's quality now (`CallQuality`), once sampled. */
    this.quality = null;
    this.sampler = null;
  }

  /** Samples the call's quality every SAMPLE_MS from now on (once it is accepted). */
  startStats() {
    this.sampler ??= setInterval(() => this.sample().catch(() => {}), SAMPLE_MS);
  }

  async sample() {
    if (this.closed) return;
    const report = await this.pc.getStats();
    if (this.closed) return;
    const quality = this.send.stats(statsReading(report));
    if (quality) {
      this.quality = quality;
      this.onChange();
    }
  }

  /** The connection's state changed: flowing again, or broken (wait for a restart). */
  connectionState() {
    if (this.closed) return;
    const state = this.pc.connectionState;
    if (state === "connected") {
      this.reconnecting = false;
      clearTimeout(this.giveUp);
      this.giveUp = null;
    } else if (state === "failed" || state === "disconnected") {
      this.reconnecting = true;
      this.giveUp ??= setTimeout(() => {
        this.giveUp = null;
        if (this.pc.connectionState !== "connected") this.fail("the connection to the visitor failed");
      }, GIVE_UP_MS);
    }
    this.onChange();
  }

  /** Fresh TURN credentials from the server, for the ICE restarts still to come. */
  setIceServers(iceServers) {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch {
      // A configuration the browser refuses changes nothing for the running call.
    }
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

  /** Takes the machine's call events for this call in order (each waits for the one before). */
  handle(event) {
    this.queue = this.queue.then(() => this.apply(event)).catch((e) => this.fail(`signalling failed: ${e && e.message}`));
  }

  async apply(event) {
    if (this.closed) return;
    switch (event.event) {
      case "remote_offer":
        // Polite: an offer of our own (we make none today) gives way to the visitor's.
        if (event.rollback && this.pc.signalingState === "have-local-offer") {
          await this.pc.setLocalDescription({ type: "rollback" });
        }
        {
          // New ICE credentials in a renegotiation: the visitor restarts ICE.
          const before = iceUfrag(this.pc.remoteDescription?.sdp);
          const after = iceUfrag(event.sdp);
          if (before && after && before !== after) {
            this.iceRestarts += 1;
            this.reconnecting = true;
          }
        }
        await this.pc.setRemoteDescription({ type: "offer", sdp: event.sdp });
        await this.pc.setLocalDescription();
        if (!this.closed) this.send.answer(this.pc.localDescription.sdp);
        // A restart of a connection that still worked leaves it connected: no event.
        if (this.pc.connectionState === "connected") this.reconnecting = false;
        this.onChange();
        break;
      case "remote_answer":
        if (this.pc.signalingState === "have-local-offer") {
          await this.pc.setRemoteDescription({ type: "answer", sdp: event.sdp });
        }
        break;
      case "remote_candidate":
        // An empty candidate marks the end of the visitor's candidates.
        if (event.candidate.candidate === "") await this.pc.addIceCandidate();
        else await this.pc.addIceCandidate(event.candidate);
        break;
      case "remote_media":
        if (!event.state.screen) this.screen = null;
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
    this.send.media(this.mediaState());
    this.onChange();
  }

  setCamera(on) {
    if (this.media !== "video") return;
    this.cameraOn = on;
    for (const t of this.local?.getVideoTracks() ?? []) t.enabled = on;
    this.send.media(this.mediaState());
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
    this.send.deviceChanged(kind);
    this.onChange();
  }

  fail(why) {
    if (this.closed) return;
    this.onFailed(why);
  }

  /** Stops the devices and the connection (hanging up in the machine is the console's). */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.giveUp);
    clearInterval(this.sampler);
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.pc.close();
  }
}
