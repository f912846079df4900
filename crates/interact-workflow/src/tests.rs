//! Workflow tests: every activity on its own, combinations, refusals and validation.
//! Time is passed in; nothing sleeps.

use std::sync::Arc;
use std::time::Duration;

use interact_sdk::time::UnixMillis;

use super::*;
use crate::activity::{Method, Priority, UNSUPPORTED};

/// Monday 2024-01-08 09:00 in Berlin (08:00 UTC).
const MON_9: UnixMillis = UnixMillis(1_704_700_800_000);
const SEC: u64 = 1000;

fn at(base: UnixMillis, secs: u64) -> UnixMillis {
    UnixMillis(base.0 + secs * SEC)
}

const HOURS: &str = r#"
[[opening_hours]]
name = "office"
time_zone = "Europe/Berlin"
[opening_hours.weekly]
mon = ["08:00-12:00", "13:00-17:00"]
tue = ["08:00-17:00"]
wed = ["08:00-17:00"]
thu = ["08:00-17:00"]
fri = ["08:00-17:00"]
sun = ["08:00-17:00"]
[[opening_hours.holiday]]
date = "2024-12-25"
"#;

fn defs(text: &str) -> Definitions {
    Definitions::parse(&format!("{HOURS}\n{text}")).unwrap_or_else(|e| panic!("{e}"))
}

fn workflow(text: &str) -> Arc<Workflow> {
    let d = defs(text);
    d.workflows.values().next().cloned().expect("one workflow")
}

fn err(text: &str) -> WorkflowError {
    Definitions::parse(&format!("{HOURS}\n{text}")).expect_err("invalid")
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn start(text: &str, p: &[(&str, &str)], now: UnixMillis) -> (WorkflowRun, Vec<Action>) {
    let mut run = WorkflowRun::new(workflow(text), params(p));
    run.handle(now, Input::Started);
    let actions = drain(&mut run);
    (run, actions)
}

fn drain(run: &mut WorkflowRun) -> Vec<Action> {
    std::iter::from_fn(|| run.poll_action()).collect()
}

fn feed(run: &mut WorkflowRun, now: UnixMillis, input: Input) -> Vec<Action> {
    run.handle(now, input);
    drain(run)
}

fn say(text: &str) -> Action {
    Action::SendMessage { text: text.into() }
}

fn ask(text: &str) -> Action {
    Action::AskVisitor {
        question: text.into(),
    }
}

fn done(end: End) -> Action {
    Action::Done { end }
}

fn disconnected(outcome: Outcome) -> Vec<Action> {
    vec![
        Action::Disconnect { outcome },
        done(End::Disconnected { outcome }),
    ]
}

fn prio(n: u8) -> Priority {
    Priority::new(n).expect("in range")
}

// ---- each activity on its own ---------------------------------------------------------

#[test]
fn accept_then_message_with_parameters() {
    let (run, actions) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "accept"
        [[workflow.step]]
        activity = "Accept"
        [[workflow.step]]
        activity = "message"
        text = "Hi {{visitor_name}} ({{ missing }})"
        [[workflow.step]]
        activity = "disconnect"
        "#,
        &[("visitor_name", "Ana")],
        MON_9,
    );
    let mut expected = vec![Action::Accept, say("Hi Ana ()")];
    expected.extend(disconnected(Outcome::Failed));
    assert_eq!(actions, expected, "a second Accept does nothing");
    assert_eq!(
        run.path_names(),
        ["#1 Accept", "#2 Accept", "#3 Message", "#4 Disconnect"]
    );
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Failed));
}

#[test]
fn save_to_parameter() {
    let (run, actions) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "save_to_parameter"
        set = { tier = "gold", greeting = "Dear {{visitor_name}}" }
        [[workflow.step]]
        activity = "message"
        text = "{{greeting}}, you are {{tier}}."
        [[workflow.step]]
        activity = "disconnect"
        outcome = "cancelled"
        "#,
        &[("visitor_name", "Bo")],
        MON_9,
    );
    assert_eq!(actions[0], say("Dear Bo, you are gold."));
    assert_eq!(run.params()["tier"], "gold");
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Cancelled));
}

#[test]
fn delay_waits_for_its_timer() {
    let (mut run, actions) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "message"
        text = "after"
        [[workflow.step]]
        activity = "disconnect"
        "#,
        &[],
        MON_9,
    );
    assert_eq!(actions, [Action::StartTimer { at: at(MON_9, 30) }]);
    assert_eq!(run.deadline(), Some(at(MON_9, 30)));
    assert!(
        feed(&mut run, at(MON_9, 29), Input::TimerFired).is_empty(),
        "early"
    );
    assert!(
        feed(
            &mut run,
            at(MON_9, 10),
            Input::VisitorMessage("hello?".into())
        )
        .is_empty()
    );
    let after = feed(&mut run, at(MON_9, 30), Input::TimerFired);
    assert_eq!(after[0], say("after"));
    assert_eq!(run.path()[1].at, at(MON_9, 30));
}

#[test]
fn disconnect_with_message_and_outcome() {
    let (mut run, actions) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        label = "bye"
        activity = "disconnect"
        message = "Nobody is here, {{visitor_name}}."
        outcome = "no_agent"
        "#,
        &[("visitor_name", "Cy")],
        MON_9,
    );
    let mut expected = vec![say("Nobody is here, Cy.")];
    expected.extend(disconnected(Outcome::NoAgent));
    assert_eq!(actions, expected);
    assert_eq!(run.path_names(), ["bye"]);
    assert!(feed(&mut run, MON_9, Input::VisitorMessage("x".into())).is_empty());
    assert!(
        feed(&mut run, MON_9, Input::Started).is_empty(),
        "a run ends once"
    );
}

#[test]
fn transfer_to_a_service_leaves_the_queue() {
    let (run, actions) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "queue_task"
        [[workflow.step]]
        activity = "transfer"
        service = "sales"
        message = "Sales will help you."
        "#,
        &[],
        MON_9,
    );
    assert_eq!(
        actions,
        [
            Action::Queue {
                priority: Priority::DEFAULT
            },
            say("Sales will help you."),
            Action::CancelQueue,
            Action::Transfer {
                service: "sales".into()
            },
            done(End::Transferred {
                service: "sales".into()
            }),
        ]
    );
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Transferred));
    assert_eq!(
        run.workflow().transfer_targets().collect::<Vec<_>>(),
        [(1, "sales")]
    );
}

const COLLECT: &str = r#"
[[workflow]]
name = "w"
[[workflow.step]]
activity = "collect_information"
questions = [
    { ask = "Your order number?", save_to = "order", expect = "digits" },
    { ask = "Your email, {{visitor_name}}?", save_to = "email", expect = "email" },
    { ask = "How many items?", save_to = "items", expect = "number" },
]
retries = 1
invalid_message = "That does not look right."
timeout_secs = 60
on_timeout = "slow"
on_invalid = "invalid"
[[workflow.step]]
activity = "message"
text = "Order {{order}}, {{email}}, {{items}} items."
[[workflow.step]]
activity = "disconnect"
[[workflow.step]]
label = "slow"
activity = "disconnect"
message = "Too slow."
[[workflow.step]]
label = "invalid"
activity = "disconnect"
message = "Giving up."
"#;

#[test]
fn collect_information_asks_in_the_chat_and_saves_answers() {
    let (mut run, actions) = start(COLLECT, &[("visitor_name", "Di")], MON_9);
    assert_eq!(
        actions,
        [
            ask("Your order number?"),
            Action::StartTimer { at: at(MON_9, 60) }
        ]
    );
    // Invalid once: told, asked again with a new timer.
    let a = feed(&mut run, at(MON_9, 5), Input::VisitorMessage("abc".into()));
    assert_eq!(
        a,
        [
            say("That does not look right."),
            ask("Your order number?"),
            Action::StartTimer { at: at(MON_9, 65) }
        ]
    );
    let a = feed(
        &mut run,
        at(MON_9, 6),
        Input::VisitorMessage(" 12 34 ".into()),
    );
    assert_eq!(a[0], ask("Your email, Di?"));
    let a = feed(
        &mut run,
        at(MON_9, 7),
        Input::VisitorMessage("di@example.com".into()),
    );
    assert_eq!(a[0], ask("How many items?"));
    let a = feed(&mut run, at(MON_9, 8), Input::VisitorMessage("3".into()));
    assert_eq!(a[0], say("Order 1234, di@example.com, 3 items."));
    assert_eq!(run.params()["order"], "1234");
    // Kept for the agent: each valid answer with its question as asked, in order (the
    // invalid "abc" is not one).
    let answers: Vec<_> = run
        .answers()
        .iter()
        .map(|a| (a.name.as_str(), a.question.as_str(), a.value.as_str(), a.at))
        .collect();
    assert_eq!(
        answers,
        [
            ("order", "Your order number?", "1234", at(MON_9, 6)),
            ("email", "Your email, Di?", "di@example.com", at(MON_9, 7)),
            ("items", "How many items?", "3", at(MON_9, 8)),
        ]
    );
}

#[test]
fn collect_information_answers_survive_a_snapshot() {
    let (mut run, _) = start(COLLECT, &[("visitor_name", "Di")], MON_9);
    feed(&mut run, at(MON_9, 1), Input::VisitorMessage("42".into()));
    let snapshot = run.snapshot();
    let json = serde_json::to_string(&snapshot).expect("encode");
    let back: RunSnapshot = serde_json::from_str(&json).expect("decode");
    let resumed =
        WorkflowRun::resume(Arc::clone(run.workflow()), back, at(MON_9, 2)).expect("resume");
    assert_eq!(resumed.answers(), run.answers());
    assert_eq!(resumed.answers()[0].value, "42");
    // A state stored before answers were kept has none.
    let mut old: serde_json::Value = serde_json::to_value(&snapshot).expect("value");
    old.as_object_mut().expect("object").remove("answers");
    let old: RunSnapshot = serde_json::from_value(old).expect("old state");
    let resumed =
        WorkflowRun::resume(Arc::clone(run.workflow()), old, at(MON_9, 2)).expect("resume");
    assert!(resumed.answers().is_empty());
}

#[test]
fn collect_information_timeout_and_retries_used_up() {
    let (mut run, _) = start(COLLECT, &[], MON_9);
    assert!(feed(&mut run, at(MON_9, 59), Input::TimerFired).is_empty());
    let a = feed(&mut run, at(MON_9, 60), Input::TimerFired);
    assert_eq!(a[0], say("Too slow."));
    assert_eq!(run.path_names(), ["#1 Collect Information", "slow"]);

    let (mut run, _) = start(COLLECT, &[], MON_9);
    feed(&mut run, MON_9, Input::VisitorMessage("x".into()));
    let a = feed(&mut run, MON_9, Input::VisitorMessage("y".into()));
    assert_eq!(a[0], say("Giving up."));
    assert!(!run.params().contains_key("order"));
    // The old timer fires after the run ended: ignored.
    assert!(feed(&mut run, at(MON_9, 60), Input::TimerFired).is_empty());
}

const MENU: &str = r#"
[[workflow]]
name = "w"
[[workflow.step]]
activity = "input_customer"
question = "Type 1 for billing or 2 for technical support."
choices = [
    { answers = ["1", "billing"], next = "billing" },
    { answers = ["2", "Technical"], next = "tech" },
]
save_to = "topic"
retries = 1
timeout_secs = 120
[[workflow.step]]
label = "fallback"
activity = "disconnect"
message = "fallback"
[[workflow.step]]
label = "billing"
activity = "transfer"
service = "billing"
[[workflow.step]]
label = "tech"
activity = "message"
text = "Tech it is ({{topic}})."
[[workflow.step]]
activity = "disconnect"
"#;

#[test]
fn input_customer_branches_on_the_answer() {
    let (mut run, actions) = start(MENU, &[], MON_9);
    assert_eq!(
        actions[0],
        ask("Type 1 for billing or 2 for technical support.")
    );
    let a = feed(
        &mut run,
        at(MON_9, 3),
        Input::VisitorMessage("  TECHNICAL ".into()),
    );
    assert_eq!(a[0], say("Tech it is (TECHNICAL)."));

    let (mut run, _) = start(MENU, &[], MON_9);
    let a = feed(&mut run, MON_9, Input::VisitorMessage("1".into()));
    assert!(matches!(&a[0], Action::Transfer { service } if service == "billing"));

    // Wrong, asked again, wrong again: the default (next step).
    let (mut run, _) = start(MENU, &[], MON_9);
    let a = feed(&mut run, MON_9, Input::VisitorMessage("3".into()));
    assert_eq!(a[0], say("Sorry, I did not understand that."));
    let a = feed(&mut run, MON_9, Input::VisitorMessage("4".into()));
    assert_eq!(a[0], say("fallback"));

    // No answer in time: the default (next step).
    let (mut run, _) = start(MENU, &[], MON_9);
    let a = feed(&mut run, at(MON_9, 120), Input::TimerFired);
    assert_eq!(a[0], say("fallback"));
}

#[test]
fn web_request_success_maps_json_into_parameters() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "web_request"
        method = "POST"
        url = "https://crm.example.com/lookup?email={{visitor_email}}"
        headers = { Authorization = "Bearer {{token}}" }
        json = { name = "{{visitor_name}}", tags = ["chat"] }
        timeout_secs = 5
        save = { tier = "/customer/tier", orders = "/customer/orders", gone = "/nope" }
        save_status_to = "crm_status"
        on_failure = "failed"
        [[workflow.step]]
        activity = "message"
        text = "Tier {{tier}}, {{orders}} orders, [{{gone}}]."
        [[workflow.step]]
        activity = "disconnect"
        [[workflow.step]]
        label = "failed"
        activity = "message"
        text = "CRM unavailable ({{crm_status}})."
        [[workflow.step]]
        activity = "disconnect"
    "#;
    let p = [
        ("visitor_email", "a+b@x.de"),
        ("visitor_name", "Eve \"E\""),
        ("token", "t0k\r\nX: y"),
        ("gone", "stale"),
    ];
    let (mut run, actions) = start(text, &p, MON_9);
    let Some(Action::HttpRequest(req)) = actions.first() else {
        panic!("{actions:?}");
    };
    assert_eq!(
        req,
        &HttpRequest {
            method: Method::Post,
            url: "https://crm.example.com/lookup?email=a%2Bb%40x.de".into(),
            headers: vec![
                ("Authorization".into(), "Bearer t0kX: y".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: Some(r#"{"name":"Eve \"E\"","tags":["chat"]}"#.into()),
            timeout: Duration::from_secs(5),
        }
    );
    assert!(
        feed(
            &mut run,
            MON_9,
            Input::AgentsAvailable {
                available: 1,
                busy: 0
            }
        )
        .is_empty(),
        "unrelated answers are ignored"
    );
    let a = feed(
        &mut run,
        at(MON_9, 1),
        Input::WebResponse {
            status: 200,
            body: r#"{"customer": {"tier": "gold", "orders": 3}}"#.into(),
        },
    );
    assert_eq!(a[0], say("Tier gold, 3 orders, []."));
    assert_eq!(run.params()["crm_status"], "200");
}

#[test]
fn web_request_failure_branches() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "web_request"
        url = "http://127.0.0.1:9/x/{{id}}"
        save = { v = "/v" }
        save_status_to = "status"
        on_success = "ok"
        on_failure = "failed"
        [[workflow.step]]
        label = "ok"
        activity = "disconnect"
        message = "ok {{v}}"
        [[workflow.step]]
        label = "failed"
        activity = "disconnect"
        message = "failed {{status}}"
    "#;
    let cases = [
        (
            Input::WebResponse {
                status: 500,
                body: "{}".into(),
            },
            "failed 500",
        ),
        (
            Input::WebResponse {
                status: 200,
                body: "<html>".into(),
            },
            "failed 200",
        ),
        (Input::WebFailed, "failed "),
        (
            Input::WebResponse {
                status: 204,
                body: r#"{"v": true}"#.into(),
            },
            "ok true",
        ),
    ];
    for (input, expected) in cases {
        let (mut run, actions) = start(text, &[("id", "a/b")], MON_9);
        assert!(
            matches!(&actions[0], Action::HttpRequest(r) if r.url == "http://127.0.0.1:9/x/a%2Fb" && r.method == Method::Get && r.body.is_none())
        );
        let a = feed(&mut run, at(MON_9, 2), input);
        assert_eq!(a[0], say(expected));
    }
}

const ROUTING: &str = r#"
[[workflow]]
name = "w"
[[workflow.step]]
activity = "get_available_users"
save_busy_to = "busy"
[[workflow.step]]
activity = "availability_based_routing"
min_available = 2
on_busy = "busy"
on_unavailable = "nobody"
[[workflow.step]]
activity = "disconnect"
message = "available {{available_users}}"
[[workflow.step]]
label = "busy"
activity = "disconnect"
message = "busy {{busy}}"
[[workflow.step]]
label = "nobody"
activity = "disconnect"
message = "nobody"
"#;

#[test]
fn availability_based_routing_and_get_available_users() {
    for (available, busy, expected) in [
        (2, 0, "available 2"),
        (5, 1, "available 5"),
        (1, 0, "busy 0"),
        (0, 3, "busy 3"),
        (0, 0, "nobody"),
    ] {
        let (mut run, actions) = start(ROUTING, &[], MON_9);
        assert_eq!(actions, [Action::QueryAgents]);
        let a = feed(&mut run, MON_9, Input::AgentsAvailable { available, busy });
        assert_eq!(a, [Action::QueryAgents], "the routing step asks again");
        let a = feed(&mut run, MON_9, Input::AgentsAvailable { available, busy });
        assert_eq!(a[0], say(expected), "{available} {busy}");
    }
}

#[test]
fn a_workflow_tells_its_first_opening_hours() {
    let with = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "message"
        text = "Hello"
        [[workflow.step]]
        activity = "check_opening_hours"
        hours = "office"
        on_closed = "closed"
        [[workflow.step]]
        activity = "disconnect"
        message = "open"
        [[workflow.step]]
        label = "closed"
        activity = "disconnect"
        message = "closed"
    "#,
    );
    let hours = with.opening_hours().expect("the step's hours");
    assert_eq!(
        (hours.name.as_str(), hours.time_zone()),
        ("office", "Europe/Berlin")
    );
    let without = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        message = "bye"
    "#,
    );
    assert!(without.opening_hours().is_none());
}

#[test]
fn check_opening_hours_branches_across_daylight_saving() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "Check Opening Hours"
        hours = "office"
        on_closed = "closed"
        on_holiday = "holiday"
        [[workflow.step]]
        activity = "disconnect"
        message = "open"
        [[workflow.step]]
        label = "closed"
        activity = "disconnect"
        message = "closed"
        [[workflow.step]]
        label = "holiday"
        activity = "disconnect"
        message = "holiday"
    "#;
    let utc = |s: &str| {
        let ts: jiff::Timestamp = s.parse().expect(s);
        UnixMillis(u64::try_from(ts.as_millisecond()).expect("positive"))
    };
    for (when, expected) in [
        ("2024-01-08T08:00:00Z", "open"),   // Monday 09:00 CET
        ("2024-01-08T11:30:00Z", "closed"), // Monday 12:30 CET, lunch
        ("2024-01-13T10:00:00Z", "closed"), // Saturday
        ("2024-03-31T06:30:00Z", "open"),   // Sunday 08:30 CEST, the day DST starts
        ("2024-03-31T06:00:00Z", "open"),   // 08:00 CEST
        ("2024-03-31T05:59:00Z", "closed"), // 07:59 CEST (08:59 would be CET's answer)
        ("2024-10-27T07:00:00Z", "open"),   // Sunday 08:00 CET, the day DST ends
        ("2024-10-27T06:30:00Z", "closed"), // 07:30 CET
        ("2024-12-25T10:00:00Z", "holiday"),
    ] {
        let (_, actions) = start(text, &[], utc(when));
        assert_eq!(actions[0], say(expected), "{when}");
    }
}

#[test]
fn check_parameter_operators() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "check_parameter"
        parameter = "p"
        conditions = [
            { op = "is_empty", next = "empty" },
            { op = "equals", value = "{{vip}}", ignore_case = true, next = "vip" },
            { op = "greater_than", value = "100", next = "big" },
            { op = "less_than", value = "0", next = "negative" },
            { op = "starts_with", value = "DE", next = "de" },
            { op = "contains", value = "@", next = "email" },
        ]
        [[workflow.step]]
        activity = "disconnect"
        message = "otherwise"
        [[workflow.step]]
        label = "empty"
        activity = "disconnect"
        message = "empty"
        [[workflow.step]]
        label = "vip"
        activity = "disconnect"
        message = "vip"
        [[workflow.step]]
        label = "big"
        activity = "disconnect"
        message = "big"
        [[workflow.step]]
        label = "negative"
        activity = "disconnect"
        message = "negative"
        [[workflow.step]]
        label = "de"
        activity = "disconnect"
        message = "de"
        [[workflow.step]]
        label = "email"
        activity = "disconnect"
        message = "email"
    "#;
    for (value, expected) in [
        (None, "empty"),
        (Some("  "), "empty"),
        (Some("GOLD"), "vip"),
        (Some("100.5"), "big"),
        (Some("100"), "otherwise"),
        (Some("-3"), "negative"),
        (Some("DE123"), "de"),
        (Some("de123"), "otherwise"),
        (Some("a@b"), "email"),
        (Some("x"), "otherwise"),
    ] {
        let mut p = vec![("vip", "gold")];
        p.extend(value.map(|v| ("p", v)));
        let (_, actions) = start(text, &p, MON_9);
        assert_eq!(actions[0], say(expected), "{value:?}");
    }
}

const QUEUE: &str = r#"
[[workflow]]
name = "w"
[[workflow.step]]
activity = "check_task"
on_queued = "queued"
on_not_queued = "queue"
[[workflow.step]]
label = "queued"
activity = "message"
text = "already queued"
[[workflow.step]]
label = "queue"
activity = "distribution_priority"
priority = 3
[[workflow.step]]
activity = "queue_task"
[[workflow.step]]
label = "wait"
activity = "delay"
seconds = 20
[[workflow.step]]
activity = "get_queue_position"
on_not_queued = "cancelled"
[[workflow.step]]
activity = "message"
text = "You are number {{queue_position}}."
[[workflow.step]]
activity = "distribution_priority"
priority = 8
[[workflow.step]]
activity = "check_task"
on_queued = "wait"
on_not_queued = "cancelled"
[[workflow.step]]
label = "cancelled"
activity = "disconnect"
"#;

#[test]
fn queue_task_priority_position_and_acceptance() {
    let (mut run, actions) = start(QUEUE, &[], MON_9);
    assert_eq!(
        actions,
        [
            Action::Queue { priority: prio(3) },
            Action::StartTimer { at: at(MON_9, 20) }
        ]
    );
    assert_eq!(run.task_state(), TaskState::Queued);
    feed(&mut run, MON_9, Input::QueueUpdate { position: 4 });
    let a = feed(&mut run, at(MON_9, 20), Input::TimerFired);
    assert_eq!(
        a,
        [
            say("You are number 4."),
            Action::SetPriority { priority: prio(8) },
            Action::StartTimer { at: at(MON_9, 40) }
        ]
    );
    feed(&mut run, at(MON_9, 30), Input::QueueUpdate { position: 1 });
    feed(
        &mut run,
        at(MON_9, 31),
        Input::Offered {
            agent: "sam".into(),
        },
    );
    assert_eq!(run.task_state(), TaskState::Offered);
    feed(&mut run, at(MON_9, 35), Input::OfferTimedOut);
    assert_eq!(run.task_state(), TaskState::Queued);
    let a = feed(&mut run, at(MON_9, 40), Input::TimerFired);
    assert_eq!(a[0], say("You are number 1."));
    assert_eq!(a.len(), 2, "priority unchanged: no SetPriority");
    let a = feed(
        &mut run,
        at(MON_9, 45),
        Input::Accepted {
            agent: "alex".into(),
        },
    );
    assert_eq!(
        a,
        [done(End::Accepted {
            agent: "alex".into()
        })]
    );
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Handled));
    assert_eq!(run.priority(), prio(8));
}

#[test]
fn cancel_task_and_check_task() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "queue_task"
        priority = 9
        [[workflow.step]]
        activity = "cancel_task"
        [[workflow.step]]
        activity = "Get Queue Position"
        [[workflow.step]]
        activity = "check_task"
        on_not_queued = "gone"
        [[workflow.step]]
        activity = "disconnect"
        message = "still queued"
        [[workflow.step]]
        label = "gone"
        activity = "disconnect"
        message = "not queued [{{queue_position}}]"
    "#;
    let (run, actions) = start(text, &[], MON_9);
    assert_eq!(
        actions[..3],
        [
            Action::Queue { priority: prio(9) },
            Action::CancelQueue,
            say("not queued []"),
        ]
    );
    assert_eq!(run.task_state(), TaskState::NotQueued);
    // An acceptance for a task that is not queued is stale.
    let (mut run, _) = start(text, &[], MON_9);
    assert!(
        feed(
            &mut run,
            MON_9,
            Input::Accepted {
                agent: "alex".into()
            }
        )
        .is_empty()
    );
}

#[test]
fn the_visitor_leaving_ends_the_run_as_abandoned() {
    let (mut run, _) = start(QUEUE, &[], MON_9);
    let a = feed(&mut run, at(MON_9, 5), Input::VisitorLeft);
    assert_eq!(a, [Action::CancelQueue, done(End::Abandoned)]);
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Abandoned));
}

#[test]
fn a_withdrawn_workflow_ends_the_session_as_failed() {
    let (mut run, _) = start(QUEUE, &[], MON_9);
    let a = feed(&mut run, at(MON_9, 5), Input::Withdrawn);
    assert_eq!(
        a[..2],
        [
            Action::CancelQueue,
            Action::Disconnect {
                outcome: Outcome::Failed
            }
        ]
    );
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Failed));
}

#[test]
fn the_step_budget_ends_a_long_loop() {
    let text = r#"
        [[workflow]]
        name = "w"
        max_steps = 10
        [[workflow.step]]
        label = "loop"
        activity = "delay"
        seconds = 1
        [[workflow.step]]
        activity = "message"
        text = "tick"
        next = "loop"
    "#;
    let (mut run, _) = start(text, &[], MON_9);
    let mut ticks = 0;
    for s in 1..100 {
        let a = feed(&mut run, at(MON_9, s), Input::TimerFired);
        ticks += a.iter().filter(|a| **a == say("tick")).count();
        if run.end().is_some() {
            assert!(a.contains(&Action::Disconnect {
                outcome: Outcome::Failed
            }));
            break;
        }
    }
    assert_eq!(ticks, 5);
    assert_eq!(run.path().len(), 10);
    assert!(matches!(run.end(), Some(End::Failed { reason }) if reason.contains("budget")));
}

// ---- combinations ---------------------------------------------------------------------

#[test]
fn hours_message_collect_queue_and_position_announced() {
    let text = r#"
        [[workflow]]
        name = "support-im"
        [[workflow.step]]
        label = "hours"
        activity = "check_opening_hours"
        hours = "office"
        on_closed = "closed"
        [[workflow.step]]
        label = "greet"
        activity = "message"
        text = "Welcome, {{visitor_name}}!"
        [[workflow.step]]
        label = "ask"
        activity = "collect_information"
        questions = [{ ask = "Your customer number?", save_to = "customer", expect = "digits" }]
        [[workflow.step]]
        label = "crm"
        activity = "web_request"
        url = "https://crm.example.com/customers/{{customer}}"
        save = { tier = "/tier" }
        on_failure = "queue"
        [[workflow.step]]
        label = "is-vip"
        activity = "check_parameter"
        parameter = "tier"
        conditions = [{ op = "equals", value = "gold", next = "vip" }]
        otherwise = "queue"
        [[workflow.step]]
        label = "vip"
        activity = "distribution_priority"
        priority = 9
        [[workflow.step]]
        label = "queue"
        activity = "queue_task"
        [[workflow.step]]
        label = "wait"
        activity = "delay"
        seconds = 15
        [[workflow.step]]
        label = "position"
        activity = "get_queue_position"
        [[workflow.step]]
        label = "announce"
        activity = "message"
        text = "You are number {{queue_position}} in the queue."
        next = "wait"
        [[workflow.step]]
        label = "closed"
        activity = "disconnect"
        message = "We are closed."
    "#;
    let (mut run, a) = start(text, &[("visitor_name", "Fay")], MON_9);
    assert_eq!(a, [say("Welcome, Fay!"), ask("Your customer number?")]);
    let a = feed(&mut run, at(MON_9, 4), Input::VisitorMessage("4711".into()));
    assert!(matches!(&a[0], Action::HttpRequest(r) if r.url.ends_with("/customers/4711")));
    let a = feed(
        &mut run,
        at(MON_9, 5),
        Input::WebResponse {
            status: 200,
            body: r#"{"tier":"gold"}"#.into(),
        },
    );
    assert_eq!(
        a,
        [
            Action::Queue { priority: prio(9) },
            Action::StartTimer { at: at(MON_9, 20) }
        ]
    );
    for (i, position) in [3u32, 2, 1].into_iter().enumerate() {
        let now = at(MON_9, 20 + 15 * i as u64);
        feed(&mut run, now, Input::QueueUpdate { position });
        let a = feed(&mut run, now, Input::TimerFired);
        assert_eq!(
            a[0],
            say(&format!("You are number {position} in the queue."))
        );
    }
    feed(
        &mut run,
        at(MON_9, 60),
        Input::Accepted {
            agent: "sam".into(),
        },
    );
    assert_eq!(
        run.path_names()[..10],
        [
            "hours", "greet", "ask", "crm", "is-vip", "vip", "queue", "wait", "position",
            "announce"
        ]
    );
    assert_eq!(run.end().map(End::outcome), Some(Outcome::Handled));

    // Outside the hours: straight to the closed message.
    let (run, a) = start(text, &[], at(MON_9, 3 * 3600 + 1800)); // 12:30, lunch
    assert_eq!(a[0], say("We are closed."));
    assert_eq!(run.path_names(), ["hours", "closed"]);
}

// ---- snapshot and resume -------------------------------------------------------------

/// The snapshot through its stored form (JSON), then resumed at `now`.
fn restart(run: &WorkflowRun, now: UnixMillis) -> (WorkflowRun, Vec<Action>) {
    let json = serde_json::to_string(&run.snapshot()).expect("encode");
    let snapshot: RunSnapshot = serde_json::from_str(&json).expect("decode");
    let mut resumed =
        WorkflowRun::resume(Arc::clone(run.workflow()), snapshot, now).expect("resumes");
    let actions = drain(&mut resumed);
    (resumed, actions)
}

const LONG: &str = r#"
    [[workflow]]
    name = "support-im"
    [[workflow.step]]
    label = "greet"
    activity = "message"
    text = "Welcome, {{visitor_name}}!"
    [[workflow.step]]
    label = "ask"
    activity = "collect_information"
    timeout_secs = 120
    questions = [
        { ask = "Your customer number?", save_to = "customer", expect = "digits" },
        { ask = "Your email?", save_to = "email", expect = "email" },
    ]
    [[workflow.step]]
    label = "topic"
    activity = "input_customer"
    question = "Sales or support?"
    retries = 1
    choices = [{ answers = ["sales"], next = "vip" }, { answers = ["support"], next = "queue" }]
    [[workflow.step]]
    label = "vip"
    activity = "distribution_priority"
    priority = 9
    [[workflow.step]]
    label = "queue"
    activity = "queue_task"
    [[workflow.step]]
    label = "wait"
    activity = "delay"
    seconds = 15
    [[workflow.step]]
    label = "position"
    activity = "get_queue_position"
    [[workflow.step]]
    label = "announce"
    activity = "message"
    text = "You are number {{queue_position}} in the queue."
    next = "wait"
"#;

/// A straight run and, for every point between two inputs, a run stored there and
/// resumed: after the resumed run re-arms what a restart lost, it does exactly what the
/// straight run did, and ends with the same path, parameters and end.
#[test]
fn a_run_resumed_from_its_snapshot_goes_on_as_if_never_stopped() {
    let script: Vec<(u64, Input)> = vec![
        (3, Input::VisitorMessage("no digits".into())),
        (4, Input::VisitorMessage("4711".into())),
        (6, Input::VisitorMessage("fay@example.com".into())),
        (8, Input::VisitorMessage("dunno".into())),
        (9, Input::VisitorMessage("Sales".into())),
        (10, Input::QueueUpdate { position: 3 }),
        (24, Input::TimerFired),
        (30, Input::QueueUpdate { position: 1 }),
        (
            31,
            Input::Offered {
                agent: "sam".into(),
            },
        ),
        (35, Input::OfferTimedOut),
        (39, Input::TimerFired),
        (
            45,
            Input::Accepted {
                agent: "alex".into(),
            },
        ),
    ];
    let (mut straight, first) = start(LONG, &[("visitor_name", "Fay")], MON_9);
    assert_eq!(
        first[..2],
        [say("Welcome, Fay!"), ask("Your customer number?")]
    );
    let mut expected = Vec::new();
    for (secs, input) in &script {
        expected.push(feed(&mut straight, at(MON_9, *secs), input.clone()));
    }
    assert_eq!(
        straight.path_names(),
        [
            "greet", "ask", "topic", "vip", "queue", "wait", "position", "announce", "wait",
            "position", "announce", "wait"
        ]
    );
    assert_eq!(straight.end().map(End::outcome), Some(Outcome::Handled));
    assert!(
        expected
            .iter()
            .flatten()
            .any(|a| matches!(a, Action::SendMessage { text } if text.contains("number 1"))),
        "{expected:?}"
    );

    for stop in 0..script.len() {
        let (mut run, _) = start(LONG, &[("visitor_name", "Fay")], MON_9);
        for (secs, input) in &script[..stop] {
            feed(&mut run, at(MON_9, *secs), input.clone());
        }
        // The restart happens a moment after the last input.
        let restart_at = at(MON_9, script[stop].0 - 1);
        let (mut resumed, rearm) = restart(&run, restart_at);
        let mut wanted = Vec::new();
        if run.task_state() != TaskState::NotQueued {
            wanted.push(Action::Queue {
                priority: run.priority(),
            });
        }
        if let Some(at) = run.deadline() {
            wanted.push(Action::StartTimer { at });
        }
        assert_eq!(rearm, wanted, "stopped before input {stop}");
        // The same state, but for the numbers the re-arming actions took.
        let mut same = resumed.snapshot();
        assert_eq!(same.numbered, run.snapshot().numbered + rearm.len() as u64);
        same.numbered = run.snapshot().numbered;
        assert_eq!(same, run.snapshot(), "stopped before {stop}");
        for (i, (secs, input)) in script.iter().enumerate().skip(stop) {
            let got = feed(&mut resumed, at(MON_9, *secs), input.clone());
            assert_eq!(got, expected[i], "stopped before {stop}, input {i}");
        }
        assert_eq!(resumed.path(), straight.path(), "stopped before {stop}");
        assert_eq!(resumed.params(), straight.params());
        assert_eq!(resumed.end(), straight.end());
        assert_eq!(resumed.priority(), straight.priority());
    }
}

/// The driver stores the snapshot after an input and before it carries out the input's
/// actions; stopped anywhere among them, the resumed run hands out every one of them
/// again, with the numbers they had, then goes on as the straight run does.
#[test]
fn actions_not_carried_out_before_a_stop_are_handed_out_again_with_their_numbers() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "message"
        text = "hi"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "message"
        text = "after"
        [[workflow.step]]
        activity = "message"
        text = "and more"
        [[workflow.step]]
        activity = "queue_task"
        [[workflow.step]]
        label = "wait"
        activity = "delay"
        seconds = 600
        next = "wait"
    "#;
    let numbered = |run: &mut WorkflowRun| {
        std::iter::from_fn(|| run.poll_action().map(|a| (run.action_number(), a)))
            .collect::<Vec<_>>()
    };
    let (mut straight, first) = start(text, &[], MON_9);
    assert_eq!(first, [say("hi"), Action::StartTimer { at: at(MON_9, 30) }]);
    straight.handle(at(MON_9, 30), Input::TimerFired);
    let stored = straight.snapshot();
    let expected = numbered(&mut straight);
    assert_eq!(
        expected.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    assert_eq!(expected[0].1, say("after"));
    assert_eq!(expected[1].1, say("and more"));

    for carried_out in 0..expected.len() {
        // What the driver carried out before the stop does not matter: it resumes from
        // what it stored before the first.
        let json = serde_json::to_string(&stored).expect("encode");
        let snapshot: RunSnapshot = serde_json::from_str(&json).expect("decode");
        let mut resumed =
            WorkflowRun::resume(Arc::clone(straight.workflow()), snapshot, at(MON_9, 31))
                .expect("resumes");
        let again = numbered(&mut resumed);
        // Every action again, with its number, but the timer of the new wait: it is set
        // up again from the wait, after the stored actions.
        let wanted: Vec<_> = expected
            .iter()
            .filter(|(_, a)| !matches!(a, Action::StartTimer { .. }))
            .cloned()
            .collect();
        assert_eq!(
            again[..wanted.len()],
            wanted[..],
            "stopped after {carried_out}"
        );
        assert!(
            matches!(
                again[wanted.len()..],
                [(_, Action::Queue { .. }), (_, Action::StartTimer { .. })]
            ),
            "{again:?}"
        );
        assert_eq!(resumed.path(), straight.path());
    }
}

/// A run that ended with actions left (a Transfer not carried out) resumes to carry
/// them out; once they are, its snapshot is of an ended run.
#[test]
fn an_end_whose_actions_were_not_carried_out_is_resumed_to_carry_them_out() {
    let mut run = WorkflowRun::new(
        workflow(
            r#"
            [[workflow]]
            name = "w"
            [[workflow.step]]
            activity = "transfer"
            service = "sales"
            "#,
        ),
        Params::new(),
    );
    run.handle(MON_9, Input::Started);
    let stored = run.snapshot();
    let straight = drain(&mut run);
    assert!(matches!(straight.last(), Some(Action::Done { .. })));
    let mut resumed =
        WorkflowRun::resume(Arc::clone(run.workflow()), stored, at(MON_9, 5)).expect("resumes");
    assert_eq!(drain(&mut resumed), straight);
    assert_eq!(resumed.end(), run.end());
    assert!(WorkflowRun::resume(Arc::clone(run.workflow()), resumed.snapshot(), MON_9).is_err());
}

#[test]
fn a_resumed_run_re_arms_its_timer_for_the_same_instant() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "message"
        text = "after"
        [[workflow.step]]
        activity = "disconnect"
    "#;
    let (run, _) = start(text, &[], MON_9);
    // Restarted within the wait: the same deadline, not 30 s from the restart.
    let (mut resumed, a) = restart(&run, at(MON_9, 10));
    assert_eq!(a, [Action::StartTimer { at: at(MON_9, 30) }]);
    assert!(feed(&mut resumed, at(MON_9, 29), Input::TimerFired).is_empty());
    assert_eq!(
        feed(&mut resumed, at(MON_9, 30), Input::TimerFired)[0],
        say("after")
    );

    // Restarted after the deadline: the timer is armed for the past instant (the
    // driver fires it at once) and the run goes on.
    let (mut late, a) = restart(&run, at(MON_9, 100));
    assert_eq!(a, [Action::StartTimer { at: at(MON_9, 30) }]);
    assert_eq!(
        feed(&mut late, at(MON_9, 100), Input::TimerFired)[0],
        say("after")
    );
    assert_eq!(late.path()[1].at, at(MON_9, 100));
}

#[test]
fn a_web_request_in_flight_at_a_restart_counts_as_failed() {
    let text = r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "queue_task"
        priority = 2
        [[workflow.step]]
        label = "lookup"
        activity = "web_request"
        url = "http://127.0.0.1:9/x"
        on_failure = "failed"
        [[workflow.step]]
        activity = "disconnect"
        message = "ok"
        [[workflow.step]]
        label = "failed"
        activity = "delay"
        seconds = 5
        [[workflow.step]]
        activity = "disconnect"
        message = "failed"
    "#;
    let (run, a) = start(text, &[], MON_9);
    assert!(matches!(
        a[..],
        [Action::Queue { .. }, Action::HttpRequest(_)]
    ));
    let (mut resumed, a) = restart(&run, at(MON_9, 3));
    assert_eq!(
        a,
        [
            Action::Queue { priority: prio(2) },
            Action::StartTimer { at: at(MON_9, 8) }
        ],
        "queued again, then the failure exit"
    );
    assert_eq!(resumed.path_names(), ["#1 Queue Task", "lookup", "failed"]);
    assert!(
        feed(
            &mut resumed,
            at(MON_9, 4),
            Input::WebResponse {
                status: 200,
                body: String::new()
            }
        )
        .is_empty(),
        "a late answer is ignored"
    );
}

#[test]
fn a_snapshot_that_does_not_fit_the_workflow_is_refused() {
    let (run, _) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "message"
        text = "hi"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "disconnect"
        "#,
        &[],
        MON_9,
    );
    let other = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "message"
        text = "hi"
        [[workflow.step]]
        activity = "disconnect"
        "#,
    );
    assert!(WorkflowRun::resume(other, run.snapshot(), MON_9).is_err());
    let short = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        "#,
    );
    assert!(WorkflowRun::resume(short, run.snapshot(), MON_9).is_err());

    let (mut ended, _) = start(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        "#,
        &[],
        MON_9,
    );
    drain(&mut ended);
    let e = WorkflowRun::resume(Arc::clone(ended.workflow()), ended.snapshot(), MON_9)
        .expect_err("ended");
    assert!(e.to_string().contains("ended"), "{e}");
}

#[test]
fn the_fingerprint_ignores_layout_but_not_content() {
    let a = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "delay"
        seconds = 30
        [[workflow.step]]
        activity = "disconnect"
        message = "bye"
        "#,
    );
    let same = workflow(
        r#"
        # A comment, other spacing and key order.
        [[workflow]]
        name    = "w"
        [[workflow.step]]
        seconds = 30
        activity = "delay"

        [[workflow.step]]
        message = 'bye'
        activity = "disconnect"
        "#,
    );
    let changed = workflow(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "delay"
        seconds = 31
        [[workflow.step]]
        activity = "disconnect"
        message = "bye"
        "#,
    );
    assert_eq!(a.fingerprint().len(), 64);
    assert_eq!(a.fingerprint(), same.fingerprint());
    assert_ne!(a.fingerprint(), changed.fingerprint());
}

// ---- refusals and validation ----------------------------------------------------------

#[test]
fn every_unsupported_activity_is_refused_by_name_and_place() {
    for (toml_name, display) in UNSUPPORTED {
        for written in [*toml_name, *display] {
            let text = format!(
                r#"
                [[workflow]]
                name = "support-im"
                [[workflow.step]]
                activity = "message"
                text = "hi"
                [[workflow.step]]
                activity = "accept"
                [[workflow.step]]
                label = "greet"
                activity = "{written}"
                [[workflow.step]]
                activity = "disconnect"
                "#
            );
            let e = err(&text);
            let line = HOURS.lines().count() + 2 + 10;
            match &e {
                WorkflowError::Unsupported { place, activity } => {
                    assert_eq!(activity, display);
                    assert_eq!(place.workflow, "support-im");
                    assert_eq!(place.step, Some(3));
                    assert_eq!(place.label.as_deref(), Some("greet"));
                    assert_eq!(place.line, Some(line), "{e}");
                }
                other => panic!("{written}: {other:?}"),
            }
            assert_eq!(
                e.to_string(),
                format!(
                    "workflow \"support-im\" step 3 (\"greet\"), line {line}: activity \
                     {display:?} is not supported for Instant Messaging"
                )
            );
        }
    }
}

#[test]
fn unknown_activities_are_refused() {
    let e = err(r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "teleport"
    "#);
    assert!(
        matches!(&e, WorkflowError::UnknownActivity { name, .. } if name == "teleport"),
        "{e}"
    );
    assert!(e.to_string().contains("step 1"), "{e}");
}

fn invalid(text: &str, needle: &str) -> WorkflowError {
    let e = err(text);
    assert!(
        matches!(e, WorkflowError::Invalid { .. } | WorkflowError::Toml(_)),
        "{e:?}"
    );
    assert!(e.to_string().contains(needle), "{needle:?} not in: {e}");
    e
}

#[test]
fn missing_and_duplicate_labels_are_refused() {
    let e = invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "check_opening_hours"
        hours = "office"
        on_closed = "clsoed"
        [[workflow.step]]
        label = "closed"
        activity = "disconnect"
        "#,
        "`on_closed` names label \"clsoed\", which no step of this workflow has",
    );
    assert!(e.to_string().contains("step 1"), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("line {}", HOURS.lines().count() + 2 + 6)),
        "{e}"
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        label = "a"
        activity = "message"
        text = "x"
        next = "b"
        [[workflow.step]]
        label = "a"
        activity = "disconnect"
        "#,
        "label \"a\" is used by an earlier step too",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "input_customer"
        question = "?"
        choices = [{ answers = ["1"], next = "nowhere" }]
        [[workflow.step]]
        activity = "disconnect"
        "#,
        "`choices` names label \"nowhere\"",
    );
}

#[test]
fn bad_parameters_are_refused() {
    let step = |body: &str| {
        format!(
            "[[workflow]]\nname = \"w\"\n[[workflow.step]]\n{body}\non_failure = \"end\"\n[[workflow.step]]\nlabel = \"end\"\nactivity = \"disconnect\"\n"
        )
    };
    let plain = |body: &str| {
        format!(
            "[[workflow]]\nname = \"w\"\n[[workflow.step]]\n{body}\n[[workflow.step]]\nactivity = \"disconnect\"\n"
        )
    };
    invalid(
        &plain("activity = \"delay\"\nseconds = 0"),
        "seconds = 0 is out of range (1 to 86400)",
    );
    invalid(&plain("activity = \"delay\""), "missing field `seconds`");
    invalid(
        &plain("activity = \"delay\"\nseconds = 5\nsecs = 5"),
        "unknown field `secs`",
    );
    invalid(
        &plain("activity = \"queue_task\"\npriority = 10"),
        "priority 10 is out of range",
    );
    invalid(
        &plain("activity = \"distribution_priority\"\npriority = 0"),
        "out of range",
    );
    invalid(
        &plain("activity = \"message\"\ntext = \"Hi {{name\""),
        "without",
    );
    invalid(
        &plain("activity = \"message\"\ntext = \"  \""),
        "text must be 1 to 4000",
    );
    invalid(
        &plain("activity = \"save_to_parameter\"\nset = { \"bad name\" = \"x\" }"),
        "is not a parameter name",
    );
    invalid(
        &plain("activity = \"collect_information\"\nquestions = []"),
        "questions (count) = 0 is out of range",
    );
    invalid(
        &plain(
            "activity = \"collect_information\"\nquestions = [{ ask = \"?\", save_to = \"x\" }]\non_timeout = \"end\"",
        ),
        "on_timeout needs timeout_secs",
    );
    invalid(
        &plain(
            "activity = \"collect_information\"\nquestions = [{ ask = \"?\", save_to = \"x\", expect = \"colour\" }]",
        ),
        "unknown variant `colour`",
    );
    invalid(
        &plain(
            "activity = \"input_customer\"\nquestion = \"?\"\nchoices = [{ answers = [\"1\"], next = \"end\" }, { answers = [\" 1\"], next = \"end\" }]",
        ),
        "listed twice",
    );
    invalid(
        &plain(
            "activity = \"check_parameter\"\nparameter = \"p\"\nconditions = [{ op = \"equals\", next = \"x\" }]",
        ),
        "needs a value",
    );
    invalid(
        &plain(
            "activity = \"check_parameter\"\nparameter = \"p\"\nconditions = [{ op = \"less_than\", value = \"ten\", next = \"x\" }]",
        ),
        "compares numbers",
    );
    invalid(
        &plain("activity = \"disconnect\"\noutcome = \"handled\""),
        "unknown variant `handled`",
    );
    invalid(
        &plain(
            "activity = \"check_opening_hours\"\nhours = \"nope\"\non_closed = \"x\"\nlabel = \"x\"",
        ),
        "no [[opening_hours]] is named \"nope\"",
    );
    invalid(
        &step("activity = \"web_request\"\nurl = \"https://{{host}}/x\""),
        "the host must be written out",
    );
    invalid(
        &step("activity = \"web_request\"\nurl = \"ftp://example.com/\""),
        "must start with http:// or https://",
    );
    invalid(
        &step("activity = \"web_request\"\nurl = \"https://example.com/\"\ntimeout_secs = 31"),
        "timeout_secs = 31 is out of range (1 to 30)",
    );
    invalid(
        &step("activity = \"web_request\"\nurl = \"https://example.com/\"\nbody = \"x\""),
        "GET takes no body",
    );
    invalid(
        &step(
            "activity = \"web_request\"\nurl = \"https://example.com/\"\nsave = { a = \"tier\" }",
        ),
        "is not a JSON pointer",
    );
    invalid(
        &step("activity = \"web_request\"\nurl = \"https://example.com/\"\nmethod = \"TRACE\""),
        "unknown variant `TRACE`",
    );
    invalid(
        &plain("label = 5\nactivity = \"accept\""),
        "`label` must be a string",
    );
    invalid(&plain("text = \"x\""), "has no `activity`");
}

#[test]
fn unknown_fields_name_their_line() {
    let text = "[[workflow]]\nname = \"w\"\n[[workflow.step]]\nactivity = \"delay\"\nseconds = 5\nsecs = 5\n[[workflow.step]]\nactivity = \"disconnect\"\n";
    let e = Definitions::parse(text).expect_err("unknown field");
    assert!(e.to_string().contains("line 6"), "{e}");
    assert!(e.to_string().contains("step 1"), "{e}");
    // Schema errors outside steps come from toml with their line.
    let e = Definitions::parse("[[workflow]]\nname = \"w\"\nmax_step = 3\n").expect_err("x");
    assert!(matches!(e, WorkflowError::Toml(_)), "{e:?}");
    assert!(
        e.to_string().contains("max_step") && e.to_string().contains("line 3"),
        "{e}"
    );
}

#[test]
fn structural_errors_are_refused() {
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "message"
        text = "x"
        "#,
        "is the last step and can go on",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        [[workflow.step]]
        label = "orphan"
        activity = "disconnect"
        "#,
        "step 2 (\"orphan\"), line",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        label = "a"
        activity = "message"
        text = "spam"
        [[workflow.step]]
        label = "b"
        activity = "get_queue_position"
        next = "a"
        "#,
        "steps 1 (a) -> 2 (b) -> 1 loop without waiting",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        label = "retry"
        activity = "web_request"
        url = "https://example.com/"
        on_failure = "retry"
        [[workflow.step]]
        activity = "disconnect"
        "#,
        "loop without waiting",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "transfer"
        service = "s"
        next = "x"
        [[workflow.step]]
        label = "x"
        activity = "disconnect"
        "#,
        "Transfer ends the workflow; it takes no `next`",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        max_steps = 5
        [[workflow.step]]
        activity = "disconnect"
        "#,
        "max_steps = 5 is out of range",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        step = []
        "#,
        "has no steps",
    );
    invalid(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        activity = "disconnect"
        "#,
        "is defined twice",
    );
    // A loop that waits is fine.
    defs(
        r#"
        [[workflow]]
        name = "w"
        [[workflow.step]]
        label = "a"
        activity = "delay"
        seconds = 5
        [[workflow.step]]
        activity = "check_task"
        on_queued = "a"
        on_not_queued = "a"
        "#,
    );
}

#[test]
fn bad_opening_hours_are_refused() {
    let e = Definitions::parse("[[opening_hours]]\nname = \"x\"\ntime_zone = \"Europe/Berln\"\n")
        .expect_err("bad zone");
    assert_eq!(
        e.to_string(),
        "opening_hours \"x\": time_zone \"Europe/Berln\" is not an IANA time zone"
    );
    let e = Definitions::parse(
        "[[opening_hours]]\nname = \"x\"\ntime_zone = \"UTC\"\nweekly.mon = [\"09:00-08:00\"]\n",
    )
    .expect_err("bad interval");
    assert!(e.to_string().contains("weekly.mon"), "{e}");
}

// ---- Audio/Video workflows -------------------------------------------------------------

/// The line (counted from 1) of the whole document `text` is loaded from that contains
/// `needle` (the last such line).
fn line_of_text(text: &str, needle: &str) -> usize {
    let whole = format!("{HOURS}\n{text}");
    whole
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .last()
        .expect("the needle is in the text")
}

/// An Audio/Video workflow whose third step is `step` (TOML keys, one per line).
fn call_workflow(step: &str) -> String {
    format!(
        r#"
        [[workflow]]
        name = "support-av"
        modality = "audio_video"
        [[workflow.step]]
        activity = "message"
        text = "Thanks for calling."
        [[workflow.step]]
        activity = "queue_task"
        [[workflow.step]]
        label = "third"
        {step}
        [[workflow.step]]
        activity = "disconnect"
        "#
    )
}

#[test]
fn what_the_documents_exclude_for_calls_is_refused_by_name_and_place() {
    let cases = [
        (
            "activity = \"transfer\"\n        user = \"alex\"",
            "user = \"alex\"",
            "Transfer",
            "can only target services",
        ),
        (
            "activity = \"queue_task\"\n        distribution = \"Pickup\"",
            "distribution = \"Pickup\"",
            "Queue",
            "the \"Pickup\" distribution type is not supported",
        ),
        (
            "activity = \"Voice Message\"",
            "activity = \"Voice Message\"",
            "Voice Message",
            "not supported",
        ),
        (
            "activity = \"input_customer\"\n        question = \"Press 1 for sales\"\n        choices = [{ answers = [\"1\"], next = \"third\" }]\n        dtmf = true",
            "dtmf = true",
            "Customer Input",
            "sending DTMF over Interact (Client/SDK) is not supported",
        ),
    ];
    for (step, at, activity, limitation) in cases {
        let text = call_workflow(step);
        let e = err(&text);
        let line = line_of_text(&text, at);
        match &e {
            WorkflowError::NotForCalls {
                place,
                activity: a,
                limitation: l,
            } => {
                assert_eq!((*a, *l), (activity, limitation));
                assert_eq!(place.workflow, "support-av");
                assert_eq!(place.step, Some(3));
                assert_eq!(place.label.as_deref(), Some("third"));
                assert_eq!(place.line, Some(line), "{e}");
            }
            other => panic!("{activity}: {other:?}"),
        }
        assert_eq!(
            e.to_string(),
            format!(
                "workflow \"support-av\" step 3 (\"third\"), line {line}: {activity}: \
                 {limitation} for Audio/Video calls initiated from Interact"
            )
        );
    }
    // An activity this server runs for neither modality says so for calls too.
    let e = err(&call_workflow("activity = \"play_music\""));
    assert!(
        matches!(
            &e,
            WorkflowError::NotForCalls {
                activity: "Play Music",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn chats_refuse_pickup_dtmf_and_transfers_to_users_at_their_key() {
    for (step, at, words) in [
        (
            "activity = \"transfer\"\n        user = \"alex\"",
            "user = \"alex\"",
            "Transfer: user: a Transfer can only target services",
        ),
        (
            "activity = \"queue_task\"\n        distribution = \"pickup\"",
            "distribution = \"pickup\"",
            "Queue Task: distribution: \"Pickup\" is not supported",
        ),
        (
            "activity = \"input_customer\"\n        question = \"Sales?\"\n        choices = [{ answers = [\"yes\"], next = \"third\" }]\n        dtmf = true",
            "dtmf = true",
            "Input Customer: dtmf: a chat has no keypad",
        ),
    ] {
        let text = call_workflow(step).replace("modality = \"audio_video\"", "");
        let e = err(&text);
        let line = line_of_text(&text, at);
        match &e {
            WorkflowError::Invalid { place, message } => {
                assert!(message.starts_with(words), "{message}");
                assert_eq!(place.line, Some(line), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    // "offer" is the distribution that is there.
    let text = call_workflow("activity = \"queue_task\"\n        distribution = \"offer\"")
        .replace("modality = \"audio_video\"", "");
    assert_eq!(workflow(&text).steps().len(), 4);
}

#[test]
fn a_call_workflow_runs_what_the_documents_allow_and_fingerprints_apart() {
    let text = r#"
        [[workflow]]
        name = "support-av"
        modality = "audio_video"
        [[workflow.step]]
        activity = "check_opening_hours"
        hours = "office"
        on_closed = "closed"
        [[workflow.step]]
        activity = "message"
        text = "Thanks for calling {{visitor_name}}."
        [[workflow.step]]
        activity = "queue_task"
        distribution = "offer"
        [[workflow.step]]
        label = "wait"
        activity = "delay"
        seconds = 60
        [[workflow.step]]
        activity = "transfer"
        service = "sales"
        message = "Let me put you through to Sales."
        [[workflow.step]]
        label = "closed"
        activity = "disconnect"
        message = "We are closed."
    "#;
    let w = workflow(text);
    assert_eq!(w.modality(), WorkflowModality::AudioVideo);
    assert_eq!(w.transfer_targets().collect::<Vec<_>>(), [(4, "sales")]);
    // Open on Monday 09:00: greeted, queued, and after a minute transferred to Sales.
    let (mut run, actions) = start(text, &[("visitor_name", "Ana")], MON_9);
    assert_eq!(actions[0], say("Thanks for calling Ana."));
    assert!(matches!(actions[1], Action::Queue { .. }), "{actions:?}");
    assert!(
        matches!(actions[2], Action::StartTimer { at } if at == at_secs(MON_9, 60)),
        "{actions:?}"
    );
    let later = feed(&mut run, at_secs(MON_9, 60), Input::TimerFired);
    assert!(
        later.contains(&Action::Transfer {
            service: "sales".into()
        }),
        "{later:?}"
    );
    // Closed on Saturday: the caller hears so and the call ends.
    let saturday = at_secs(MON_9, 5 * 24 * 3600);
    let (_, actions) = start(text, &[], saturday);
    assert_eq!(actions[0], say("We are closed."), "{actions:?}");
    // The same steps as a chat workflow fingerprint differently (a stored run of one
    // never resumes as the other); chat workflows keep their fingerprints.
    let chat = workflow(&text.replace("modality = \"audio_video\"", ""));
    assert_eq!(chat.modality(), WorkflowModality::InstantMessaging);
    assert_ne!(chat.fingerprint(), w.fingerprint());
    let explicit = workflow(&text.replace("audio_video", "instant_messaging"));
    assert_eq!(chat.fingerprint(), explicit.fingerprint());
}

fn at_secs(base: UnixMillis, secs: u64) -> UnixMillis {
    at(base, secs)
}
