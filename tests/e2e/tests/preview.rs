//! The Preview page in headless Chromium: the widget works inside it (framed by the
//! server itself), the snippet is there to copy, and the origin check answers.

use std::time::Duration;

use interact_e2e::browser::with_browser;
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_page_shows_the_live_widget_the_snippet_and_checks_origins() {
    if skip_browser("the Preview page test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let _agent = interact_e2e::agent::AgentClient::connect(stack.addr, &token).await;
    let stack_ref = &stack;

    with_browser("preview", LIMIT, |page| async move {
        let (page, stack) = (&*page, stack_ref);
        page.browser
            .set_window_size(1200, 900)
            .await
            .expect("window size");
        // Only through a signed link (which sets the ticket's cookie and redirects to the
        // plain address).
        let url = stack.preview_link().await;
        page.browser.goto(&url).await.expect("open the Preview page");
        let here = page.browser.current_url().await.expect("url");
        assert_eq!(
            here.as_str(),
            format!("{}/preview/{}", stack.server_url, stack.code.as_str()),
            "the ticket leaves the address bar"
        );
        page.record_problems().await;
        page.wait_text("the heading", "h1", "Preview: Customer Care")
            .await;
        let snippet: String = page
            .eval("return document.getElementById('snippet').value;", vec![])
            .await;
        assert_eq!(
            snippet,
            format!(
                "<script async src=\"{}/widget/loader.js\" data-interact-code=\"{}\"></script>",
                stack.server_url,
                stack.code.as_str()
            )
        );
        page.wait_visible("the copy button", "#copy").await;

        // The widget in the page is live: its form is ready (an agent is available).
        page.element("iframe.widget")
            .await
            .enter_frame()
            .await
            .expect("enter the widget");
        page.record_problems().await;
        assert!(
            !page.is_visible(".iw-min").await,
            "no minimise button: nothing on the Preview page could show it again"
        );
        page.wait_until(
            "the widget's form to be usable",
            "const b = document.querySelector('.iw-start');
             return b && !b.disabled && b.checkVisibility() ? true : document.body.innerText.slice(0, 200);",
            vec![],
        )
        .await;
        page.assert_no_problems("the previewed widget").await;
        page.browser.enter_parent_frame().await.expect("back to the page");
        page.assert_no_problems("the Preview page").await;
        page.screenshot("page").await;

        // Check an origin outside the template, then one inside.
        for (origin, class, words) in [
            ("https://shop.example.com", "verdict no", "is not allowed"),
            (stack.host_url.as_str(), "verdict ok", "is allowed"),
        ] {
            let input = page.element("#origin").await;
            input.clear().await.expect("clear");
            input.send_keys(origin).await.expect("type an origin");
            page.element("form button[type=submit]")
                .await
                .click()
                .await
                .expect("check");
            page.wait_until(
                "the verdict",
                "const v = document.querySelector('.verdict');
                 return v && v.className === arguments[0] && v.textContent.includes(arguments[1])
                   ? true : (v ? v.className + ': ' + v.textContent : 'none');",
                vec![json!(class), json!(words)],
            )
            .await;
        }
    })
    .await;
    stack.stop().await;
}
