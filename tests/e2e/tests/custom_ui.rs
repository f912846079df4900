//! The custom-UI example (`examples/custom-ui`): a page that builds its own chat UI on the
//! JavaScript SDK (`InteractClient`), served on an allowed origin with a CSP that allows
//! the Interact server and `'wasm-unsafe-eval'`, chatting with a native agent.

use std::time::Duration;

use fantoccini::key::Key;
use interact_e2e::agent::AgentClient;
use interact_e2e::browser::with_browser;
use interact_e2e::skip_browser;
use interact_e2e::stack::{Stack, require_widget_package};

const LIMIT: Duration = Duration::from_secs(90);
const AGENT_SAYS: &str = "<img src=x onerror=alert(1)> Hello from the agent";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_ui_on_the_javascript_sdk_chats_with_an_agent() {
    if skip_browser("the custom-UI example test") {
        return;
    }
    require_widget_package();
    let stack = Stack::start().await;
    let token = stack.agent_token("alex").await;
    let mut agent = AgentClient::connect(stack.addr, &token).await;
    let (stack_ref, agent_ref) = (&stack, &mut agent);

    with_browser("custom-ui", LIMIT, |page| async move {
        let (page, stack, agent) = (&*page, stack_ref, agent_ref);
        page.browser
            .goto(&stack.custom_ui_url())
            .await
            .expect("open the example");
        page.record_problems().await;
        page.wait_text("the target from the SDK's config event", "#target", "Customer Care")
            .await;
        page.wait_visible("the example's form", "#start").await;

        // The SDK validates before sending: an empty form is refused locally.
        page.element("#start button").await.click().await.expect("submit");
        page.wait_until(
            "the SDK's form errors",
            "const t = document.getElementById('form-error').textContent;
             return t.includes('display_name: required') && t.includes('consent') ? true : t;",
            vec![],
        )
        .await;
        assert_eq!(stack.open_sessions().await, 0);

        page.element("#name").await.send_keys("Bo").await.expect("name");
        page.element("#email").await.send_keys("bo@example.com").await.expect("email");
        page.element("#consent").await.click().await.expect("consent");
        page.element("#start button").await.click().await.expect("start");

        let session = agent.accept_next().await;
        page.wait_any_text("the agent joining", "#log li", "Alex Agent is here.").await;
        agent.say(&session, AGENT_SAYS).await;
        page.wait_any_text("the agent's message", "#log li", &format!("Alex Agent{AGENT_SAYS}"))
            .await;
        let images: u32 = page
            .eval("return document.querySelectorAll('#log img').length;", vec![])
            .await;
        assert_eq!(images, 0, "the example renders messages as text");

        page.element("#text")
            .await
            .send_keys(&format!("Thanks!{}", Key::Enter))
            .await
            .expect("type a message");
        agent.wait_visitor_message("Thanks!").await;
        page.wait_until(
            "the message's delivery state from the SDK",
            "const s = document.querySelector('#log .mine .state');
             return s && ['sent', 'delivered', 'read'].includes(s.textContent) ? true : (s ? s.textContent : 'none');",
            vec![],
        )
        .await;
        page.element("#end").await.click().await.expect("end");
        page.wait_text("the end", "#status", "This conversation has ended.").await;
        page.assert_no_problems("the custom-UI page").await;
        page.screenshot("chat").await;
    })
    .await;
    assert_eq!(agent.visitor_messages, ["Thanks!"]);
    stack.stop().await;
}
