//! The socket and the timer in headless Chromium (`cargo xtask test` runs it): what a
//! machine is told when no server answers, when the browser refuses a URL, and that a
//! timer fires once, on time, and not after it is dropped.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use interact_browser::{Socket, Timer, now};
use interact_sdk::client::Input;
use interact_sdk::time::Instant;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Waits up to 5 s for `done`.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        TimeoutFuture::new(50).await;
    }
}

#[wasm_bindgen_test]
async fn a_socket_nobody_answers_is_one_disconnect_without_a_code() {
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let record = seen.clone();
    // Port 9 (discard) on loopback: nothing listens there.
    let socket = Socket::open("ws://127.0.0.1:9/v1/ws", move |input| {
        record.borrow_mut().push(match input {
            Input::Connected => "connected".to_owned(),
            Input::Received(text) => format!("received {text}"),
            Input::Disconnected(code) => format!("disconnected {code:?}"),
        });
    })
    .expect("the browser takes the URL");
    until(|| !seen.borrow().is_empty()).await;
    // Nothing more comes after the close.
    TimeoutFuture::new(200).await;
    assert_eq!(*seen.borrow(), ["disconnected None"]);
    drop(socket);
}

#[wasm_bindgen_test]
fn a_url_the_browser_refuses_is_an_error_at_once() {
    // Not a WebSocket scheme (nor http(s), which browsers now take for ws(s)).
    assert!(Socket::open("ftp://127.0.0.1:9/", |_| {}).is_err());
    // A fragment is never allowed.
    assert!(Socket::open("ws://127.0.0.1:9/#x", |_| {}).is_err());
}

#[wasm_bindgen_test]
async fn a_dropped_socket_reports_nothing() {
    let seen: Rc<RefCell<u32>> = Rc::default();
    let record = seen.clone();
    let socket = Socket::open("ws://127.0.0.1:9/v1/ws", move |_| *record.borrow_mut() += 1)
        .expect("the browser takes the URL");
    drop(socket);
    TimeoutFuture::new(500).await;
    assert_eq!(*seen.borrow(), 0);
}

#[wasm_bindgen_test]
async fn a_timer_fires_once_on_time_and_not_after_it_is_dropped() {
    let fired: Rc<RefCell<Vec<u64>>> = Rc::default();
    let start = now();
    let record = fired.clone();
    let _kept = Timer::at(Instant::from_millis(start.as_millis() + 100), move || {
        record.borrow_mut().push(now().as_millis());
    })
    .expect("a timer");
    let record = fired.clone();
    let dropped = Timer::at(Instant::from_millis(start.as_millis() + 50), move || {
        record.borrow_mut().push(0);
    });
    drop(dropped);
    until(|| !fired.borrow().is_empty()).await;
    TimeoutFuture::new(200).await;
    let fired = fired.borrow();
    assert_eq!(fired.len(), 1, "only the kept timer fires: {fired:?}");
    assert!(fired[0] >= start.as_millis() + 100, "not before its time");
    assert!(Timer::at(Instant::from_millis(u64::MAX), || {}).is_none());
}
