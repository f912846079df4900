//! `cargo test -p interact-terminal-visitor`: the terminal client against the real server
//! (`interact_e2e::stack`), with a scripted visitor on its input and an agent played over a
//! native WebSocket (`interact_e2e::agent`).

mod common;

use std::collections::BTreeMap;

use common::Terminal;
use interact_e2e::agent::AgentClient;
use interact_e2e::stack::Stack;
use interact_sdk::ids::{MessageId, Seq, SessionId};
use interact_sdk::protocol::{
    ClientFrame, EndReason, ErrorCode, EventFrame, Party, ReceiptState, ServerFrame, SessionEvent,
};
use interact_terminal_visitor::Outcome;

/// The agent's display name, as a hostile administrator might configure it: a colour
/// change, a window-title sequence ending in BEL, a carriage return and a right-to-left
/// override. Names come from the configuration, which the server does not filter.
const HOSTILE_NAME: &str = "Alex \u{1b}[31mAgent\u{1b}]0;pwned\u{7}\r\u{202e}";
/// How the client must print it.
const SHOWN_NAME: &str = "Alex \\u{1b}[31mAgent\\u{1b}]0;pwned\\u{7}\\u{d}\\u{202e}";

/// Signs `alex` in and makes them available (both checked); the service then takes chats.
async fn available_agent(stack: &Stack) -> AgentClient {
    let token = stack.agent_token("alex").await;
    AgentClient::connect(stack.addr, &token).await
}

/// The session's events the agent has seen, by sequence number, each once: a repeat of a
/// number (a replay) must be the same event.
#[derive(Default)]
struct Seen(BTreeMap<Seq, EventFrame>);

impl Seen {
    fn add(&mut self, frames: &[ServerFrame]) {
        for f in frames {
            if let ServerFrame::Event(e) = f
                && let Some(old) = self.0.insert(e.seq, e.clone())
            {
                assert_eq!(old, *e, "seq {:?} changed", e.seq);
            }
        }
    }

    fn visitor_messages(&self) -> Vec<(MessageId, String)> {
        self.0
            .values()
            .filter_map(|e| match &e.event {
                SessionEvent::Message {
                    from: Party::Visitor,
                    id,
                    text,
                    ..
                } => Some((id.clone(), text.clone())),
                _ => None,
            })
            .collect()
    }
}

fn is_event(f: &ServerFrame, pred: impl Fn(&SessionEvent) -> bool) -> bool {
    matches!(f, ServerFrame::Event(e) if pred(&e.event))
}

fn visitor_said(f: &ServerFrame, said: &str) -> Option<Seq> {
    match f {
        ServerFrame::Event(EventFrame {
            seq,
            event:
                SessionEvent::Message {
                    from: Party::Visitor,
                    text,
                    ..
                },
            ..
        }) if text == said => Some(*seq),
        _ => None,
    }
}

#[tokio::test]
async fn chat_with_an_agent_through_the_server() {
    let stack = Stack::start_with(|cfg| {
        let alex = cfg.users.iter_mut().find(|u| u.id == "alex").expect("alex");
        alex.display_name = HOSTILE_NAME.into();
    })
    .await;
    let mut agent = available_agent(&stack).await;

    // The visitor sees the target, its availability and the privacy policy, and fills in
    // the form.
    let mut term = Terminal::start(&stack, 1);
    term.expect("Customer Care: open").await;
    term.expect("Your name:").await;
    term.type_line("Vera <b>Visitor</b>").await;
    term.expect("Your email:").await;
    term.type_line("vera@example.com").await;
    term.expect("Privacy: I agree that Interact Demo processes")
        .await;
    term.expect("http://127.0.0.1:8080/privacy (version 2024-05)")
        .await;
    term.expect("Do you agree? [y/N]:").await;
    term.type_line("y").await;
    term.expect("Your first message").await;
    term.type_line("Hello, I need help").await;
    term.expect("Starting the chat...").await;
    term.expect("Chat started with Customer Care.").await;
    term.expect("you #1: Hello, I need help").await;
    term.expect("Waiting for an agent: number 1 in the queue.")
        .await;

    // The agent is offered the chat, with the visitor's name and first message, and takes it.
    let frames = agent
        .frames_until("an offer", |f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!()
    };
    assert_eq!(offer.visitor.display_name, "Vera <b>Visitor</b>");
    assert_eq!(offer.first_message.as_deref(), Some("Hello, I need help"));
    let session: SessionId = offer.session.clone();
    agent
        .send(&ClientFrame::Accept {
            session: session.clone(),
        })
        .await;
    let mut seen = Seen::default();
    seen.add(
        &agent
            .frames_until("the agent joining", |f| {
                is_event(f, |e| matches!(e, SessionEvent::AgentJoined { .. }))
            })
            .await,
    );
    term.expect(&format!("{SHOWN_NAME} joined the chat.")).await;

    // A chat message reaches the agent; the agent reads it and the visitor sees that.
    term.type_line("Is anyone there?").await;
    let frames = agent
        .frames_until("the visitor's message", |f| {
            visitor_said(f, "Is anyone there?").is_some()
        })
        .await;
    seen.add(&frames);
    let up_to = frames
        .iter()
        .find_map(|f| visitor_said(f, "Is anyone there?"))
        .expect("the message");
    term.expect("you #2: Is anyone there?").await;
    agent
        .send(&ClientFrame::Receipt {
            session: Some(session.clone()),
            up_to,
            state: ReceiptState::Read,
        })
        .await;
    // The receipt covers the first message (from the form) too: both reach read.
    term.expect("[#1 #2 read]").await;

    // The agent types, then answers with markup; a reply with raw escape sequences is
    // refused by the server, so the name is the agent's way into the terminal.
    agent
        .send(&ClientFrame::Typing {
            session: Some(session.clone()),
            active: true,
        })
        .await;
    term.expect(&format!("{SHOWN_NAME} is typing...")).await;
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: MessageId::new("agent-raw").expect("id"),
            text: "\u{1b}[2J\u{1b}[1;1Hyou have been pwned".into(),
            after: None,
        })
        .await;
    let refused = agent
        .frames_until("the refusal", |f| matches!(f, ServerFrame::Error(_)))
        .await;
    let Some(ServerFrame::Error(e)) = refused.last() else {
        unreachable!()
    };
    assert_eq!(e.code, ErrorCode::InvalidField);
    seen.add(&refused);
    let reply = "<script>alert(1)</script> Hi <b>Vera</b>!\nHow can I help?";
    agent
        .send(&ClientFrame::Send {
            session: Some(session.clone()),
            id: MessageId::new("agent-1").expect("id"),
            text: reply.into(),
            after: None,
        })
        .await;
    term.expect(&format!(
        "{SHOWN_NAME}: <script>alert(1)</script> Hi <b>Vera</b>!\n    How can I help?"
    ))
    .await;

    // The visitor writes once more and ends the chat.
    term.type_line("Thanks, that was all.").await;
    term.expect("you #3: Thanks, that was all.").await;
    term.type_line("/end").await;
    term.expect("The chat ended: you ended it.").await;
    seen.add(
        &agent
            .frames_until("the end of the chat", |f| {
                is_event(f, |e| {
                    matches!(
                        e,
                        SessionEvent::Ended {
                            reason: EndReason::VisitorEnded
                        }
                    )
                })
            })
            .await,
    );

    let (outcome, transcript) = term.finish().await;
    assert_eq!(
        outcome.expect("no error"),
        Outcome::Ended(EndReason::VisitorEnded)
    );
    // Nothing the agent sent reached the terminal as a control character.
    let controls: Vec<char> = transcript
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(controls.is_empty(), "{controls:?} in:\n{transcript}");
    assert!(!transcript.contains('\u{202e}'), "{transcript}");
    assert!(!transcript.contains("you have been pwned"), "{transcript}");

    // The agent got each of the visitor's messages exactly once, in order.
    let texts: Vec<String> = seen
        .visitor_messages()
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(
        texts,
        [
            "Hello, I need help",
            "Is anyone there?",
            "Thanks, that was all."
        ]
    );
    let mut ids: Vec<MessageId> = seen
        .visitor_messages()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "distinct message ids");
    stack.stop().await;
}

#[tokio::test]
async fn form_errors_are_shown_by_field_and_asked_again() {
    let stack = Stack::start().await;
    let mut agent = available_agent(&stack).await;

    let mut term = Terminal::start(&stack, 2);
    term.expect("Your name:").await;
    term.type_line("Vera").await;
    term.expect("Your email:").await;
    term.type_line("vera at example.com").await;
    term.expect("Do you agree? [y/N]:").await;
    term.type_line("n").await;
    term.expect("Your first message").await;
    term.type_line("").await;

    // Both problems, by field; then only those fields are asked again, the policy with
    // the consent.
    term.expect("  email: not a valid email address").await;
    term.expect("  consent: consent to the privacy policy is required")
        .await;
    term.expect("Your email:").await;
    term.type_line("vera@example.com").await;
    term.expect("Privacy: I agree").await;
    term.expect("Do you agree? [y/N]:").await;
    term.type_line("y").await;
    term.expect("Starting the chat...").await;
    term.expect("Chat started with Customer Care.").await;

    // The session exists with what was entered the second time.
    let frames = agent
        .frames_until("an offer", |f| matches!(f, ServerFrame::Offer(_)))
        .await;
    let Some(ServerFrame::Offer(offer)) = frames.last() else {
        unreachable!()
    };
    assert_eq!(offer.visitor.display_name, "Vera");
    assert_eq!(offer.visitor.email, "vera@example.com");
    assert_eq!(offer.first_message, None);

    term.type_line("/end").await;
    term.expect("The chat ended: you ended it.").await;
    let (outcome, transcript) = term.finish().await;
    assert_eq!(
        outcome.expect("no error"),
        Outcome::Ended(EndReason::VisitorEnded)
    );
    assert_eq!(transcript.matches("Your name:").count(), 1, "{transcript}");
    stack.stop().await;
}

#[tokio::test]
async fn reconnects_and_resumes_across_a_server_restart() {
    let mut stack = Stack::start().await;
    let agent = available_agent(&stack).await;

    let mut term = Terminal::start(&stack, 3);
    for (prompt, answer) in [
        ("Your name:", "Vera"),
        ("Your email:", "vera@example.com"),
        ("Do you agree? [y/N]:", "y"),
        ("Your first message", "Before the restart"),
    ] {
        term.expect(prompt).await;
        term.type_line(answer).await;
    }
    term.expect("you #1: Before the restart").await;

    // The server goes away (closing every connection with 1001); the client says so and
    // keeps what is typed meanwhile.
    drop(agent);
    stack.stop_server().await;
    term.expect("Connection lost; reconnecting in").await;
    term.type_line("While it was down").await;

    // The same server comes back on the same address with the same database: the client
    // resumes the session and sends the message, once.
    stack.start_server().await;
    term.expect("Connected.").await;
    term.expect("you #2: While it was down").await;
    term.expect("[#2 sent]").await;
    term.type_line("/end").await;
    term.expect("The chat ended: you ended it.").await;
    let (outcome, transcript) = term.finish().await;
    assert_eq!(
        outcome.expect("no error"),
        Outcome::Ended(EndReason::VisitorEnded)
    );
    for line in ["you #1: Before the restart", "you #2: While it was down"] {
        assert_eq!(transcript.matches(line).count(), 1, "{line}:\n{transcript}");
    }
    stack.stop().await;
}
