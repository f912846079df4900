//! Widget size and speed: prints figures, asserts nothing.
//!
//! ```sh
//! cargo xtask widget                               # the release build being measured
//! cargo bench -p interact-e2e --bench widget       # add `-- --runs 20` for more samples
//! ```
//!
//! Sizes: raw, gzip (level 9) and brotli (quality 11) of the loader and of the widget
//! (wasm + JS glue, as `cargo xtask widget` builds them: release, opt-level z, wasm-opt
//! -Oz), and of the frame's own script and style sheet.
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

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use interact_e2e::browser::{Driver, Page, browser_binaries};
use interact_e2e::stack::{Stack, require_widget_package, www};
use serde_json::{Value, json};

fn gzip(data: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip").len()
}

fn brotli(data: &[u8]) -> usize {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).expect("brotli");
    }
    out.len()
}

struct Size {
    raw: usize,
    gzip: usize,
    brotli: usize,
}

fn size_of(paths: &[&Path]) -> Size {
    let mut s = Size {
        raw: 0,
        gzip: 0,
        brotli: 0,
    };
    for p in paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        s.raw += data.len();
        s.gzip += gzip(&data);
        s.brotli += brotli(&data);
    }
    s
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
            "--bench" => {}
            "-h" | "--help" => {
                println!("cargo bench -p interact-e2e --bench widget [-- --runs N]");
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    require_widget_package();
    let w = www().join("widget");
    let loader = size_of(&[&w.join("loader.js")]);
    let widget = size_of(&[
        &w.join("pkg/interact_widget_bg.wasm"),
        &w.join("pkg/interact_widget.js"),
    ]);
    let wasm = size_of(&[&w.join("pkg/interact_widget_bg.wasm")]);
    let glue = size_of(&[&w.join("pkg/interact_widget.js")]);
    let frame = size_of(&[&w.join("frame.js"), &w.join("widget.css")]);

    println!("Interact widget benchmark\n");
    println!(
        "Reproduce:  cargo xtask widget && cargo bench -p interact-e2e --bench widget -- --runs {runs}"
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
    println!("                                   raw        gzip      brotli");
    for (name, s) in [
        ("loader (loader.js)", &loader),
        ("widget (wasm + JS glue)", &widget),
        ("  wasm", &wasm),
        ("  JS glue", &glue),
        ("frame.js + widget.css", &frame),
    ] {
        println!(
            "  {name:<26} {:>10} {:>10} {:>10}",
            kb(s.raw),
            kb(s.gzip),
            kb(s.brotli)
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
        kb(widget.gzip),
        verdict(widget.gzip < 150_000)
    );
    println!(
        "  launcher within 50 ms (median)       {:>7.1} ms  {}",
        launcher,
        verdict(launcher < 50.0)
    );
}
