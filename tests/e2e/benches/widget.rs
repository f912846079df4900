//! Widget size and speed: prints figures, asserts nothing.
//!
//! ```sh
//! cargo xtask widget                               # the release build being measured
//! cargo bench -p interact-e2e --bench widget       # add `-- --runs 20` for more samples
//! ```
//!
//! Sizes: raw, and the gzip (Zopfli) and brotli (quality 11) copies the server sends, of
//! the loader, of the widget's chat path (what a visitor downloads before the first
//! message: the frame module's wasm and JS glue, as `cargo xtask widget` builds them
//! (release, opt-level z, wasm-opt -Oz), its loader snippet, and the frame's own script
//! and style sheet), of the JavaScript SDK for custom UIs, and of the call module both
//! load on the first call click;
//! beside them zlib's gzip level 9, the figure most widgets quote.
//!
//! Speed, in headless Chromium against the real server on loopback, each run a fresh
//! navigation of the demo host page (strict CSP) in one browser (so after the first run,
//! files come from the HTTP cache after revalidation):
//! - *launcher*: from the loader script starting to run to the launcher in the page
//!   (`performance` marks `interact:loader-start` and `interact:launcher-shown`), beside
//!   the page's own `DOMContentLoaded` as the baseline;
//! - *click to form*: from the launcher click to the pre-chat form being usable in the
//!   frame (mark `interact:form-ready`: configuration received, form shown, name field
//!   focused), beside the baseline of a bare iframe of the same server (`/healthz`)
//!   loading after a click, measured the same way in the same page.
//!
//! Calls (issue 6), with the agent console in a second Chromium (fake camera and
//! microphone, loopback, no TURN), `--calls` video calls in one chat: from the visitor's
//! click on "Start call" (after the device step) to the call ringing in the console, and
//! to the first frame of the agent's video at the visitor. The console's page accepts the
//! moment it rings (a script in the page, checking every 5 ms), so the figure is the
//! machinery's, not a person's. Times are `Date.now()` of the two pages (one machine).
//! Beside them, from the click on the video call button to the device step showing: the
//! first call of the page loads the call module first (its script and wasm, not cached).

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use interact_e2e::browser::{Driver, Page, browser_binaries};
use interact_e2e::console::{SHOWN, accept_first_offer, sign_in_available};
use interact_e2e::stack::{Stack, require_widget_package, www};
use interact_e2e::widget::start_chat;
use serde_json::{Value, json};

/// zlib's gzip at level 9, for comparison with the served copy.
fn gzip9(data: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip").len()
}

/// The size of the precompressed copy `cargo xtask widget` wrote next to `path`.
fn served(path: &Path, suffix: &str) -> usize {
    let copy = format!("{}.{suffix}", path.display());
    std::fs::metadata(&copy)
        .unwrap_or_else(|e| panic!("{copy}: {e} (build with `cargo xtask widget`)"))
        .len() as usize
}

struct Size {
    raw: usize,
    gzip: usize,
    brotli: usize,
    gzip9: usize,
}

fn size_of(paths: &[&Path]) -> Size {
    let mut s = Size {
        raw: 0,
        gzip: 0,
        brotli: 0,
        gzip9: 0,
    };
    for p in paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        s.raw += data.len();
        s.gzip += served(p, "gz");
        s.brotli += served(p, "br");
        s.gzip9 += gzip9(&data);
    }
    s
}

/// The JavaScript snippets wasm-bindgen wrote for the chat module (the call module's
/// loader), which its glue imports.
fn snippet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "js") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(samples: &[f64]) -> String {
    let first = samples[0];
    let mut warm: Vec<f64> = samples[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    if warm.is_empty() {
        return format!("{first:>8.1} ms");
    }
    format!(
        "{first:>8.1} ms {:>8.1} ms {:>8.1} ms",
        percentile(&warm, 0.5),
        percentile(&warm, 0.9)
    )
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples[1..].to_vec();
    if s.is_empty() {
        return samples[0];
    }
    s.sort_by(f64::total_cmp);
    percentile(&s, 0.5)
}

/// One navigation: the launcher and click-to-form figures, and their baselines.
async fn one_run(page: &Page, stack: &Stack) -> [f64; 4] {
    let b = &page.browser;
    b.goto(&stack.host_url).await.expect("host page");
    page.wait_until(
        "the launcher",
        "return performance.getEntriesByName('interact:launcher-shown').length > 0
           && document.querySelector('button[data-interact=launcher]').dataset.state === 'ready'
           ? true : 'waiting';",
        vec![],
    )
    .await;
    let load: Value = page
        .eval(
            "const m = (n) => performance.getEntriesByName(n)[0].startTime;
             const nav = performance.getEntriesByType('navigation')[0];
             return { launcher: m('interact:launcher-shown') - m('interact:loader-start'),
                      dcl: nav.domContentLoadedEventEnd };",
            vec![],
        )
        .await;
    // Baseline: a click that adds a bare iframe of the same server, until it loaded.
    let _: bool = page
        .eval(
            "window.__bare = null;
             const t0 = performance.now();
             const f = document.createElement('iframe');
             f.addEventListener('load', () => { window.__bare = performance.now() - t0; f.remove(); });
             f.src = arguments[0] + '/healthz?' + Math.random();
             document.body.append(f);
             return true;",
            vec![json!(stack.server_url)],
        )
        .await;
    page.wait_until(
        "the bare iframe",
        "return window.__bare !== null ? true : 'loading';",
        vec![],
    )
    .await;
    let bare: f64 = page.eval("return window.__bare;", vec![]).await;
    // The widget: click the launcher, then read the frame's form-ready mark.
    let clicked: f64 = page
        .eval(
            "const t = performance.timeOrigin + performance.now();
             document.querySelector('button[data-interact=launcher]').click();
             return t;",
            vec![],
        )
        .await;
    page.wait_visible("the widget frame", "iframe[data-interact=frame]")
        .await;
    page.element("iframe[data-interact=frame]")
        .await
        .enter_frame()
        .await
        .expect("enter the frame");
    page.wait_until(
        "the form to be ready",
        "return performance.getEntriesByName('interact:form-ready').length > 0 ? true : 'waiting';",
        vec![],
    )
    .await;
    let ready: f64 = page
        .eval(
            "return performance.timeOrigin + performance.getEntriesByName('interact:form-ready')[0].startTime;",
            vec![],
        )
        .await;
    b.enter_parent_frame().await.expect("top");
    [
        load["launcher"].as_f64().unwrap_or(f64::NAN),
        load["dcl"].as_f64().unwrap_or(f64::NAN),
        ready - clicked,
        bare,
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut runs = 10usize;
    let mut calls = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(runs)
                    .max(2)
            }
            "--calls" => {
                calls = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(calls)
                    .max(1)
            }
            "--bench" => {}
            "-h" | "--help" => {
                println!("cargo bench -p interact-e2e --bench widget [-- --runs N --calls N]");
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    require_widget_package();
    let w = www().join("widget");
    let loader = size_of(&[&w.join("loader.js")]);
    let snippets = snippet_files(&w.join("pkg/snippets"));
    let mut chat_files = vec![
        w.join("pkg/interact_widget_frame_bg.wasm"),
        w.join("pkg/interact_widget_frame.js"),
        w.join("frame.js"),
        w.join("widget.css"),
    ];
    chat_files.extend(snippets.iter().cloned());
    let chat_path = size_of(&chat_files.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let wasm = size_of(&[&w.join("pkg/interact_widget_frame_bg.wasm")]);
    let glue = size_of(&[&w.join("pkg/interact_widget_frame.js")]);
    let sdk = size_of(&[
        &w.join("pkg/interact_widget_bg.wasm"),
        &w.join("pkg/interact_widget.js"),
    ]);
    let snippet = size_of(&snippets.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let frame = size_of(&[&w.join("frame.js"), &w.join("widget.css")]);
    let call = size_of(&[
        &w.join("pkg/interact_widget_call_bg.wasm"),
        &w.join("pkg/interact_widget_call.js"),
    ]);
    let call_wasm = size_of(&[&w.join("pkg/interact_widget_call_bg.wasm")]);
    let call_glue = size_of(&[&w.join("pkg/interact_widget_call.js")]);

    println!("Interact widget benchmark\n");
    println!(
        "Reproduce:  cargo xtask widget && cargo bench -p interact-e2e --bench widget -- --runs {runs} --calls {calls}"
    );
    println!(
        "Machine:    {} CPUs, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default()
    );
    println!("\nSizes (bytes as served; the server sends the precompressed .br or .gz)");
    println!("                                   raw        gzip      brotli   (gzip -9)");
    for (name, s) in [
        ("loader (loader.js)", &loader),
        ("chat path (before 1st msg)", &chat_path),
        ("  chat wasm", &wasm),
        ("  chat JS glue", &glue),
        ("  call loader snippet", &snippet),
        ("  frame.js + widget.css", &frame),
        ("JS SDK (custom UIs)", &sdk),
        ("call module (1st call)", &call),
        ("  call wasm", &call_wasm),
        ("  call JS glue", &call_glue),
    ] {
        println!(
            "  {name:<26} {:>10} {:>10} {:>10} {:>11}",
            kb(s.raw),
            kb(s.gzip),
            kb(s.brotli),
            format!("({})", kb(s.gzip9))
        );
    }

    let stack = Stack::start().await;
    let (chromium, chromedriver) = browser_binaries();
    let profile = tempfile::tempdir().expect("profile");
    let driver = Driver::start(&chromedriver).await;
    let page = Page::new(driver.session(&chromium, profile.path()).await, "bench");
    let mut samples = vec![Vec::new(); 4];
    for _ in 0..runs {
        let r = tokio::time::timeout(Duration::from_secs(60), one_run(&page, &stack))
            .await
            .expect("a run within 60 s");
        for (s, v) in samples.iter_mut().zip(r) {
            s.push(v);
        }
    }
    let _ = page.browser.clone().close().await;
    drop(driver);
    stack.stop().await;
    let call_samples = call_runs(calls).await;

    println!(
        "\nSpeed in headless Chromium, {runs} navigations of the demo host page (first = cold cache)"
    );
    println!("                                         first   median(rest)  p90(rest)");
    println!(
        "  loader start -> launcher shown    {}",
        summary(&samples[0])
    );
    println!(
        "  baseline: page DOMContentLoaded   {}",
        summary(&samples[1])
    );
    println!(
        "  click -> form ready (widget)      {}",
        summary(&samples[2])
    );
    println!(
        "  baseline: click -> bare iframe    {}",
        summary(&samples[3])
    );
    let ratio = median(&samples[2]) / median(&samples[3]).max(0.001);
    println!("  widget / bare iframe (medians)    x{ratio:.1}");

    println!(
        "\nCalls: {calls} video calls between the widget and the console (fake devices, loopback)"
    );
    println!("                                         first   median(rest)  p90(rest)");
    println!(
        "  click Start call -> ringing       {}",
        summary(&call_samples[0])
    );
    println!(
        "  click Start call -> agent video   {}",
        summary(&call_samples[1])
    );
    println!(
        "  accepted -> agent video           {}",
        summary(&call_samples[2])
    );
    println!(
        "  click call -> device step shown   {}",
        summary(&call_samples[3])
    );
    println!("  (the first includes loading the call module: its script and wasm, cold cache)");

    let launcher = median(&samples[0]);
    println!("\nAims (issue 4)");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "  loader under 4 KB gzipped            {:>10}  {}",
        kb(loader.gzip),
        verdict(loader.gzip < 4000)
    );
    println!(
        "  widget under 150 KB gzipped          {:>10}  {}",
        kb(chat_path.gzip),
        verdict(chat_path.gzip < 150_000)
    );

    println!(
        "  launcher within 50 ms (median)       {:>7.1} ms  {}",
        launcher,
        verdict(launcher < 50.0)
    );
    println!("Aims (issue 16)");
    println!(
        "  chat path at most 100 KB brotli      {:>10}  {}",
        kb(chat_path.brotli),
        verdict(chat_path.brotli <= 100_000)
    );
}

/// Records, in the console's page, when a call rings, and accepts it at once.
const AUTO_ACCEPT: &str = "window.__rang = null;
   clearInterval(window.__autoAccept);
   window.__autoAccept = setInterval(() => {
     const banner = document.querySelector(arguments[0] + ' .call-banner');
     const accept = document.querySelector(arguments[0] + ' .call-accept');
     if (window.__rang === null && banner && !banner.hidden && !accept.disabled) {
       window.__rang = Date.now();
       accept.click();
     }
   }, 5);
   return true;";

/// Clicks Start call in the widget's frame and records when the agent's video shows its
/// first frame.
const START_AND_WATCH: &str = "window.__media = null;
   const v = document.querySelector('.iw-remote');
   clearInterval(window.__watch);
   window.__watch = setInterval(() => {
     if (window.__media === null && v.srcObject && v.getVideoPlaybackQuality().totalVideoFrames > 0) {
       window.__media = Date.now();
     }
   }, 5);
   const at = Date.now();
   document.querySelector('.iw-call-go').click();
   return at;";

/// `calls` video calls in one chat: [click -> ringing, click -> agent's video, accepted ->
/// agent's video] in milliseconds.
/// Clicks the video call button and records when the device step shows (the first time
/// after the call module loaded and mounted).
const CLICK_TO_STEP: &str = "window.__step = null;
   clearInterval(window.__stepWatch);
   window.__stepWatch = setInterval(() => {
     const d = document.querySelector('.iw-devices');
     if (window.__step === null && d && !d.hidden && d.offsetParent !== null) {
       window.__step = Date.now();
       clearInterval(window.__stepWatch);
     }
   }, 2);
   const at = Date.now();
   document.querySelector('.iw-call-video').click();
   return at;";

async fn call_runs(calls: usize) -> [Vec<f64>; 4] {
    let stack = Stack::start().await;
    let (chromium, chromedriver) = browser_binaries();
    let (agent_profile, visitor_profile) = (
        tempfile::tempdir().expect("profile"),
        tempfile::tempdir().expect("profile"),
    );
    let agent_driver = Driver::start(&chromedriver).await;
    let console = Page::new(
        agent_driver.session(&chromium, agent_profile.path()).await,
        "bench-console",
    );
    let visitor_driver = Driver::start(&chromedriver).await;
    let visitor = Page::new(
        visitor_driver
            .session(&chromium, visitor_profile.path())
            .await,
        "bench-visitor",
    );
    sign_in_available(&console, &stack, "alex").await;
    start_chat(
        &visitor,
        &stack.host_url,
        "Bench Visitor",
        "A call, please.",
    )
    .await;
    accept_first_offer(&console).await;
    let mut out: [Vec<f64>; 4] = Default::default();
    for _ in 0..calls {
        visitor
            .wait_visible("the video call button", ".iw-call-video")
            .await;
        let clicked: f64 = visitor.eval(CLICK_TO_STEP, vec![]).await;
        visitor
            .wait_until(
                "the device step",
                "return window.__step !== null ? true : 'not yet';",
                vec![],
            )
            .await;
        let step: f64 = visitor.eval("return window.__step;", vec![]).await;
        out[3].push(step - clicked);
        interact_e2e::widget::wait_device_step_ready(&visitor).await;
        let _: bool = console.eval(AUTO_ACCEPT, vec![json!(SHOWN)]).await;
        let clicked: f64 = visitor.eval(START_AND_WATCH, vec![]).await;
        visitor
            .wait_until(
                "the agent's video",
                "return window.__media !== null ? true : 'waiting';",
                vec![],
            )
            .await;
        let media: f64 = visitor.eval("return window.__media;", vec![]).await;
        let rang: f64 = console.eval("return window.__rang;", vec![]).await;
        out[0].push(rang - clicked);
        out[1].push(media - clicked);
        out[2].push(media - rang);
        visitor.click(".iw-hangup").await;
        console
            .wait_until(
                "the call panel to close",
                "return document.querySelector(arguments[0] + ' .call-panel').hidden ? true : 'open';",
                vec![json!(SHOWN)],
            )
            .await;
    }
    let _ = console.browser.clone().close().await;
    let _ = visitor.browser.clone().close().await;
    drop(agent_driver);
    drop(visitor_driver);
    stack.stop().await;
    out
}
