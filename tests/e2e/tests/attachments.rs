//! Files in a widget chat, as a visitor and an agent meet them (protocol §2.6): the visitor
//! attaches an image in the widget (a progress bar while it goes up), the agent sees it
//! in the console as a thumbnail that loads (through a `blob:` URL fetched with the
//! agent's token); the agent attaches a PDF in the console, which the visitor sees as a
//! link with its name and size; an executable named `photo.png` is refused by the server
//! and the widget says why; a file over the configured size is refused in the widget
//! before it is sent. And the JavaScript SDK on a page of another origin (the custom-UI
//! example's): `sendFile` with its progress, `fileUrl` into an image that decodes, a
//! refusal as `FileRefused` with the status.
//!
//! The files are made in the page (a canvas's PNG, bytes from base64) and handed to the
//! file inputs through a `DataTransfer`, as a file chooser would. Screenshots go to
//! `target/test-artifacts/attachments-*.png`.

use std::sync::Arc;
use std::time::Duration;

use interact_e2e::browser::{Page, with_browser};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use interact_e2e::widget::{fill_and_start, open_form, top};
use interact_sdk::protocol::SessionEvent;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(180);

/// The largest file the test's server takes: 256 KB.
const MAX_BYTES: u64 = 256 * 1024;

/// A small PDF.
const PDF_BASE64: &str = "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvQ2F0YWxvZyA+PiBlbmRvYmoKdHJhaWxlciA8PCAvUm9vdCAxIDAgUiA+PgolJUVPRgo=";

/// The start of a Windows executable (`MZ`...).
const EXE_BASE64: &str =
    "TVqQAAMAAAAEAAAA//8AAFRoaXMgcHJvZ3JhbSBjYW5ub3QgYmUgcnVuIGluIERPUyBtb2RlLg==";

/// Puts a file into the file input `arguments[0]` as a file chooser would and reports the
/// change: named `arguments[1]`, of type `arguments[2]`, its bytes `arguments[3]`: `canvas`
/// (a 40×30 PNG drawn here), `big:<n>` (a PNG header and n bytes), or base64.
const CHOOSE_FILE: &str = r#"
  const [sel, name, type, what] = arguments;
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  let data;
  if (what === 'canvas') {
    const c = document.createElement('canvas');
    c.width = 40; c.height = 30;
    const g = c.getContext('2d');
    g.fillStyle = '#c33'; g.fillRect(0, 0, 40, 30);
    g.fillStyle = '#fff'; g.fillRect(10, 8, 20, 14);
    data = b64(c.toDataURL('image/png').split(',')[1]);
  } else if (what.startsWith('big:')) {
    data = new Uint8Array(Number(what.slice(4)));
    data.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  } else {
    data = b64(what);
  }
  const dt = new DataTransfer();
  dt.items.add(new File([data], name, { type }));
  const input = document.querySelector(sel);
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
  return true;
"#;

async fn choose_file(page: &Page, input: &str, name: &str, mime: &str, what: &str) {
    let done: bool = page
        .eval(
            CHOOSE_FILE,
            vec![json!(input), json!(name), json!(mime), json!(what)],
        )
        .await;
    assert!(done);
}

/// Waits until the image `css` has loaded (its natural width is more than 0).
async fn wait_image(page: &Page, what: &str, css: &str) {
    page.wait_until(
        what,
        "const i = document.querySelector(arguments[0]);
         return i && i.complete && i.naturalWidth > 0 ? true : (i ? 'src ' + i.src : 'no image');",
        vec![json!(css)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_goes_to_the_agent_a_pdf_comes_back_and_an_executable_is_refused() {
    if skip_browser("the attachments end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Arc::new(Stack::start_with(|c| c.attachments.max_bytes = MAX_BYTES).await);
    with_browser("attachments-console", LIMIT, |console| {
        let stack = Arc::clone(&stack);
        async move {
            sign_in_available(&console, &stack, "alex").await;
            with_browser("attachments-visitor", LIMIT, |visitor| async move {
                scenario(&console, &visitor, &stack).await;
            })
            .await;
        }
    })
    .await;
}

async fn scenario(console: &Page, visitor: &Page, stack: &Stack) {
    open_form(visitor, &stack.host_url).await;
    fill_and_start(visitor, "Ivy Image", "The parcel arrived broken.").await;
    accept_first_offer(console).await;
    visitor
        .wait_visible("the attach button", ".iw-attach")
        .await;
    let label: String = visitor
        .eval(
            "return document.querySelector('.iw-attach').getAttribute('aria-label');",
            vec![],
        )
        .await;
    assert_eq!(label, "Attach a file");

    // --- The visitor sends a photo: a progress bar while it goes up, then the thumbnail.
    // The bar is watched from the moment the file is chosen.
    let _: Value = visitor
        .eval(
            "window.__barSeen = false;
             const bar = document.querySelector('.iw-progress');
             new MutationObserver(() => { if (!bar.hidden) window.__barSeen = true; })
               .observe(bar, { attributes: true });
             return null;",
            vec![],
        )
        .await;
    choose_file(visitor, ".iw-file", "parcel.png", "image/png", "canvas").await;
    wait_image(visitor, "the visitor's own thumbnail", ".iw-own .iw-thumb").await;
    let seen: bool = visitor.eval("return window.__barSeen;", vec![]).await;
    assert!(seen, "the progress bar showed during the upload");
    assert!(
        !visitor.is_visible(".iw-progress").await,
        "and went after it"
    );

    // The agent sees it in the console: a thumbnail that loads, named with its size.
    let thumb = format!("{SHOWN} .msg-file .file-thumb");
    wait_image(console, "the agent's thumbnail of the photo", &thumb).await;
    let shown: Value = console
        .eval(
            "const i = document.querySelector(arguments[0]);
             return { alt: i.alt, width: i.naturalWidth, height: i.naturalHeight,
                      scheme: i.src.split(':')[0], download: i.closest('a').download };",
            vec![json!(thumb)],
        )
        .await;
    let alt = shown["alt"].as_str().unwrap_or_default();
    assert!(
        alt.starts_with("parcel.png (") && alt.ends_with(" B)"),
        "the thumbnail is named with its size: {alt}"
    );
    assert_eq!(
        (
            &shown["width"],
            &shown["height"],
            &shown["scheme"],
            &shown["download"]
        ),
        (&json!(40), &json!(30), &json!("blob"), &json!("parcel.png"))
    );
    console.screenshot("console-photo").await;

    // --- The agent sends a PDF from the console; the visitor sees a link with its name.
    choose_file(
        console,
        &format!("{SHOWN} .composer-file"),
        "return-label.pdf",
        "application/pdf",
        PDF_BASE64,
    )
    .await;
    visitor
        .wait_any_text(
            "the agent's PDF as a link",
            ".iw-agent .iw-filelink",
            "return-label.pdf (77 B)",
        )
        .await;
    visitor
        .wait_until(
            "the PDF link to point at the fetched file",
            "const a = document.querySelector('.iw-agent .iw-filelink');
             return a.href.startsWith('blob:') && a.download === 'return-label.pdf'
               ? true : a.href;",
            vec![],
        )
        .await;

    // --- An executable named photo.png: the server refuses it; the widget says why.
    choose_file(visitor, ".iw-file", "photo.png", "image/png", EXE_BASE64).await;
    visitor
        .wait_text(
            "the refusal of the disguised executable",
            "[id$='-text-error']",
            "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
        )
        .await;
    // --- Over the configured size: refused in the widget, before anything is sent.
    choose_file(
        visitor,
        ".iw-file",
        "huge.png",
        "image/png",
        &format!("big:{}", MAX_BYTES + 1),
    )
    .await;
    visitor
        .wait_text(
            "the refusal of a file too large",
            "[id$='-text-error']",
            "This file is too large. The limit is 256 KB.",
        )
        .await;
    let files: usize = visitor
        .eval(
            "return document.querySelectorAll('.iw-filemsg').length;",
            vec![],
        )
        .await;
    assert_eq!(files, 2, "only the photo and the PDF are in the chat");
    visitor.assert_no_problems("the widget frame").await;
    visitor.screenshot("widget").await;
    top(visitor).await;

    // The server stored exactly those two, in the session's events.
    let session = stack
        .server
        .state
        .store
        .open_sessions()
        .await
        .expect("sessions")
        .pop()
        .expect("the chat")
        .id;
    let events = stack
        .server
        .state
        .store
        .events(&session)
        .await
        .expect("events");
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::Attachment { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["parcel.png", "return-label.pdf"]);
}

/// Starts a second client of the JavaScript SDK in the custom-UI example's page (an
/// allowed origin of another port than the server's, with the example's CSP), and waits
/// for its session: `window.__c` the client, `window.__ev` its events.
const SDK_CHAT: &str = r#"
  const [server, code] = arguments;
  return (async () => {
    const sdk = await import(server + '/widget/pkg/interact_widget.js');
    await sdk.default();
    const c = new sdk.InteractClient({ server, code, persist: false });
    window.__c = c;
    window.__ev = [];
    const next = (pred) => new Promise((resolve) => {
      const found = window.__ev.find(pred);
      if (found) return resolve(found);
      const t = setInterval(() => {
        const f = window.__ev.find(pred);
        if (f) { clearInterval(t); resolve(f); }
      }, 20);
    });
    window.__next = next;
    c.onEvent((e) => window.__ev.push(e));
    c.connect();
    const config = (await next((e) => e.type === 'config')).config;
    c.startChat({ displayName: 'Sid Sdk', email: 'sid@example.com',
                  consent: config.privacy.version, firstMessage: 'Files from a custom UI' });
    await next((e) => e.type === 'session_started');
    return config.attachment_max_bytes;
  })();
"#;

/// Sends a canvas PNG and an executable named `photo.png` with `sendFile`, and loads the
/// PNG back through `fileUrl` from its `attachment` event.
const SDK_FILES: &str = r#"
  const [exe] = arguments;
  return (async () => {
    const c = window.__c;
    const canvas = document.createElement('canvas');
    canvas.width = 40; canvas.height = 30;
    canvas.getContext('2d').fillRect(0, 0, 40, 30);
    const png = await new Promise((r) => canvas.toBlob(r, 'image/png'));
    const progress = [];
    const sent = await c.sendFile(new File([png], 'sdk.png', { type: 'image/png' }),
                                  (f) => progress.push(f));
    const ev = await window.__next((e) => e.type === 'event' && e.event.kind === 'attachment');
    const url = await c.fileUrl(ev.event.id);
    const img = new Image();
    img.src = url;
    await img.decode();
    let refused = null;
    try {
      const bytes = Uint8Array.from(atob(exe), (ch) => ch.charCodeAt(0));
      await c.sendFile(new File([bytes], 'photo.png', { type: 'image/png' }));
    } catch (e) {
      refused = [e.name, e.status];
    }
    return { name: sent.name, mime: sent.mime, same: sent.id === ev.event.id,
             progressed: progress.length > 0 && progress[progress.length - 1] === 1,
             scheme: url.split(':')[0], width: img.naturalWidth, refused };
  })();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_sdk_sends_and_fetches_files_from_another_origin() {
    if skip_browser("the JavaScript SDK's files end-to-end test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let mut agent = interact_e2e::agent::AgentClient::connect(stack.addr, &token).await;
    let (stack_ref, agent_ref) = (&stack, &mut agent);
    with_browser("attachments-sdk", LIMIT, |page| async move {
        let (page, stack, agent) = (&*page, stack_ref, agent_ref);
        page.browser
            .goto(&stack.custom_ui_url())
            .await
            .expect("open the example");
        page.record_problems().await;
        let max: u64 = page
            .eval(
                SDK_CHAT,
                vec![json!(stack.server_url), json!(stack.code.as_str())],
            )
            .await;
        assert_eq!(max, 10 * 1024 * 1024);
        agent.accept_next().await;
        let got: Value = page.eval(SDK_FILES, vec![json!(EXE_BASE64)]).await;
        assert_eq!(
            got,
            json!({"name": "sdk.png", "mime": "image/png", "same": true, "progressed": true,
                   "scheme": "blob", "width": 40, "refused": ["FileRefused", 415]})
        );
        page.assert_no_problems("the custom UI's page").await;
    })
    .await;
}
