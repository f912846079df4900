//! The agent console as the browser tests drive it.

use fantoccini::key::Key;
use serde_json::json;

use crate::browser::Page;
use crate::stack::{Stack, www};

/// The session the console shows.
pub const SHOWN: &str = ".session:not([hidden])";

/// Fails with what to do if the console's wasm package (the SDK's agent machine) has not
/// been built: without it the console page cannot start.
pub fn require_console_package() {
    let wasm = www().join("console/pkg/interact_console_bg.wasm");
    assert!(
        wasm.is_file(),
        "{} is missing: build it with `cargo xtask widget` (`cargo xtask test` does)",
        wasm.display()
    );
}

/// Opens the console, signs `user` in (the demo password) and makes them available, as
/// confirmed by the server.
pub async fn sign_in_available(page: &Page, stack: &Stack, user: &str) {
    require_console_package();
    page.browser
        .goto(&format!("{}/console/", stack.server_url))
        .await
        .expect("open the console");
    page.wait_visible("the sign-in form", "#signin-view").await;
    page.type_into("#signin-username", user).await;
    page.type_into("#signin-password", &format!("demo-password{}", Key::Enter))
        .await;
    page.wait_until(
        "the console to be online",
        "const c = document.getElementById('conn');
         return c && c.dataset.state === 'online' ? true : c && c.dataset.state;",
        vec![],
    )
    .await;
    page.element("#presence-select")
        .await
        .select_by_value("available")
        .await
        .expect("choose available");
    page.wait_until(
        "presence available confirmed by the server",
        "const p = document.querySelector('.presence');
         return p.dataset.presence === 'available' && !p.classList.contains('is-pending')
           ? true : p.dataset.presence + ' ' + p.className;",
        vec![],
    )
    .await;
}

/// Accepts the first offer in the list and waits for its chat to show who joined.
pub async fn accept_first_offer(page: &Page) {
    page.wait_visible("an offer", "#offers .offer .offer-accept")
        .await;
    page.click("#offers .offer .offer-accept").await;
    page.wait_until(
        "the accepted chat to open",
        "const t = document.querySelector(arguments[0] + ' .sys-agent_joined');
         return t ? true : 'not yet';",
        vec![json!(SHOWN)],
    )
    .await;
}
