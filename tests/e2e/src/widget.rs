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
