//! The embedded widget as the browser tests reach it: the loader's launcher on the host
//! page and the widget's frame.

use crate::browser::Page;

/// The launcher button the loader draws on the host page.
pub const LAUNCHER: &str = "button[data-interact=launcher]";
/// The widget's frame on the host page.
pub const FRAME: &str = "iframe[data-interact=frame]";

/// Switches to the host page (from anywhere: the widget frame is one level deep, and the
/// parent of the top document is itself).
pub async fn top(page: &Page) {
    page.browser
        .enter_parent_frame()
        .await
        .expect("top document");
}

/// Switches into the widget's frame (from anywhere) once it has mounted.
pub async fn enter_widget(page: &Page) {
    top(page).await;
    page.wait_visible("the widget frame", FRAME).await;
    page.element(FRAME)
        .await
        .enter_frame()
        .await
        .expect("enter the widget frame");
    page.wait_until(
        "the widget to mount",
        "return document.body.dataset.ready === 'true' ? true : document.readyState;",
        vec![],
    )
    .await;
}

/// Opens `host_url` and the widget, and waits for a usable pre-chat form (an agent is
/// available); leaves the page in the widget's frame, recording its problems.
pub async fn open_form(page: &Page, host_url: &str) {
    page.browser
        .goto(host_url)
        .await
        .expect("open the host page");
    page.wait_visible("the launcher", LAUNCHER).await;
    page.click(LAUNCHER).await;
    enter_widget(page).await;
    page.record_problems().await;
    page.wait_visible("the pre-chat form", ".iw-form").await;
    page.wait_until(
        "the start button to be enabled",
        "return !document.querySelector('.iw-start').disabled;",
        vec![],
    )
    .await;
}

/// Ends the chat as a visitor does: the header's menu, then End chat.
pub async fn end_chat(page: &Page) {
    page.click(".iw-more").await;
    page.wait_visible("the menu's End chat", ".iw-menu .iw-end")
        .await;
    page.click(".iw-end").await;
}

/// Fills the open pre-chat form (`name`, an email, consent, `first` message) and starts.
pub async fn fill_and_start(page: &Page, name: &str, first: &str) {
    page.type_into("[id$='-name']", name).await;
    page.type_into("[id$='-email']", "visitor@example.com")
        .await;
    page.click("[id$='-consent']").await;
    page.type_into("[id$='-first']", first).await;
    page.click(".iw-start").await;
}

/// Opens `host_url`, the widget, and starts a chat with `name` and a first message;
/// leaves the page in the widget's frame.
pub async fn start_chat(page: &Page, host_url: &str, name: &str, first: &str) {
    open_form(page, host_url).await;
    fill_and_start(page, name, first).await;
}

/// Waits until the device step's "Start call" can be clicked: shown, and enabled (it is
/// disabled while the browser is asked for the devices).
pub async fn wait_device_step_ready(page: &Page) {
    page.wait_until(
        "the device step to be ready",
        "const b = document.querySelector('.iw-call-go');
         return b && !b.disabled && b.offsetParent !== null ? true : 'not yet';",
        vec![],
    )
    .await;
}
