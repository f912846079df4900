// A small TypeScript program on the package's API, type-checked (never run) by
// `cargo xtask test` with `tsc --noEmit` against the assembled package: the declarations
// must describe what a custom UI uses.

import init, {
  InteractClient,
  PROTOCOL_VERSION,
  SDK_VERSION,
  type InteractEvent,
  type MediaDevice,
  type PreChatForm,
  type SessionEvent,
  type WidgetConfig,
} from "interact-sdk";

const sdk: string = SDK_VERSION;
const protocol: number = PROTOCOL_VERSION;

function describe(event: SessionEvent): string {
  switch (event.kind) {
    case "message":
      return `${event.from}: ${event.text}`;
    case "attachment":
      return `${event.name} (${event.mime}, ${event.size} bytes)`;
    case "queued":
      return `number ${event.position} in the queue`;
    case "agent_joined":
      return `${event.agent.display_name} joined`;
    case "ended":
      return `ended: ${event.reason}`;
    default:
      return event.kind;
  }
}

export async function start(page: { log(line: string): void }): Promise<void> {
  await init();
  page.log(`interact-sdk ${sdk}, protocol ${protocol}`);
  const client = new InteractClient({
    server: "https://chat.example.com",
    code: "ie1_interactdemowidgetsupporta",
    persist: false,
  });
  client.onEvent((e: InteractEvent) => {
    switch (e.type) {
      case "link":
        page.log(`link ${e.state}`);
        break;
      case "state":
        page.log(`state ${e.state} ${e.position ?? ""} ${e.agent?.display_name ?? ""}`);
        break;
      case "event":
        page.log(`#${e.seq} ${describe(e.event)}`);
        break;
      case "message_state":
        page.log(`${e.id} ${e.state}`);
        break;
      case "form_rejected":
        for (const problem of e.fields) page.log(`${problem.field}: ${problem.code}`);
        break;
      case "remote_stream":
        page.log(`remote stream ${e.stream ? e.stream.id : "none"}`);
        break;
      default:
        page.log(e.type);
    }
  });
  const config: WidgetConfig = await client.checkConfig();
  client.connect();
  client.setContext({ page_url: "https://shop.example/cart", attributes: { plan: "gold" } });
  const form: PreChatForm = {
    displayName: "Ada",
    email: "ada@example.com",
    consent: config.privacy.version,
    firstMessage: "Hello",
  };
  if (config.modalities.includes("video")) {
    client.startChat(form, { call: "video" }); // call-first
  } else {
    client.startChat(form); // the options may be left out
  }
  const id: string = client.send("Is the order on its way?");
  page.log(`sent ${id}, state ${client.state}`);
  client.setTyping(false);
  client.markRead();
  if (config.attachment_max_bytes !== undefined) {
    const file = new File(["%PDF-1.4"], "order.pdf", { type: "application/pdf" });
    const sent = await client.sendFile(file, (fraction: number) => page.log(`${fraction}`));
    const url: string = await client.fileUrl(sent.id);
    page.log(url);
    const again = await client.sendFile(file); // without progress
    page.log(`${again.name}: ${again.size} bytes, #${again.seq}`);
  }
  if (config.modalities.includes("video")) {
    const devices: MediaDevice[] = await client.listDevices();
    const pending: "audio" | "video" | null = client.pendingCall();
    if (pending) await client.startCall(pending);
    else await client.startCall("video", { audioinput: devices[0]?.id });
    client.setMuted(true);
    client.hangup();
  }
  client.end();
  client.rate(5, "Quick and kind");
  if (config.transcript_email) client.emailTranscript();
  client.close();
}
