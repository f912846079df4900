//! Golden tests for wire protocol v1.
//!
//! Part one pins the JSON of every frame, session event and call signal, every error code
//! and every close code: each case builds the Rust value, encodes it and compares with a
//! golden literal, then decodes the literal and compares with the value.
//!
//! Part two checks docs/protocol.md against the code: every example with a role in its
//! info string (```` ```json client ````, `server`, `event`, `signal`, `config`) must decode
//! as that type, must not be an unknown variant, and must re-encode to the same JSON. Every
//! tag the golden cases produce must be shown in the document, and every error code and
//! close code must be named in it.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use interact_sdk::config::{
    Availability, Position, PrivacyPolicy, Target, TargetKind, Theme, WidgetConfig,
};
use interact_sdk::context::ChatContext;
use interact_sdk::embed::EmbedCode;
use interact_sdk::form::{Field, FieldError, FieldProblem, FormErrors, PreChatForm};
use interact_sdk::ids::{
    AgentId, AttachmentId, CallId, MessageId, ResumeToken, Seq, SessionId, TargetId,
};
use interact_sdk::limits;
use interact_sdk::modality::{Modalities, Modality};
use interact_sdk::protocol::{
    AgentHello, AgentInfo, CallMedia, CallSignal, ClientFrame, CloseCode, Consent, DeviceKind,
    EndReason, ErrorCode, ErrorFrame, EventFrame, HangupReason, Hello, IceCandidate, IceServer,
    MediaState, Offer, PROTOCOL_VERSION, Party, Presence, QualitySummary, ReceiptState, Resume,
    ServerFrame, SessionEvent, SessionInfo, Spread, TargetInfo, TransferTarget, VisitorInfo,
    decode_client, decode_server, encode,
};
use interact_sdk::time::UnixMillis;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The specification, compiled in so that the check also runs in a browser.
const DOC: &str = include_str!("../../../docs/protocol.md");

// ---------------------------------------------------------------------------------------
// Values used throughout (the same as in docs/protocol.md).

const SESSION: &str = "s_7Hq2NcX9vR4mKp1ZtY8wLb";
const SESSION_2: &str = "s_2bQx8LmT5vKc9RzW4nPy1D";
const START_ID: &str = "m6a4329ef01211476-1";
const VISITOR_MSG: &str = "me5d46330166ae111-2";
const AGENT_MSG: &str = "m0f3a9c47b2e1d805-1";
const CALL: &str = "ce75801c1cd4cea77-3";
const AGENT: &str = "agt_4Rk9Zp2Lq7";
const TOKEN: &str = "b8Jq3XzV0kR5mWn2Yt7LcP9sHf4GdA1eUoNi6rKyTwE";
const FIRST_MESSAGE: &str = "Hi, my order #1042 hasn't arrived yet.";
const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";

fn sid(s: &str) -> SessionId {
    SessionId::new(s).expect("valid session id")
}

fn mid(s: &str) -> MessageId {
    MessageId::new(s).expect("valid message id")
}

fn call_id() -> CallId {
    CallId::new(CALL).expect("valid call id")
}

fn sam() -> AgentInfo {
    AgentInfo {
        id: AgentId::new(AGENT).expect("valid agent id"),
        display_name: "Sam".into(),
    }
}

fn ann() -> VisitorInfo {
    VisitorInfo {
        display_name: "Ann Example".into(),
        email: "ann@example.com".into(),
        channel: None,
        phone: None,
        verified_id: None,
    }
}

fn customer_care() -> Target {
    Target {
        kind: TargetKind::Service,
        display_name: "Customer Care".into(),
    }
}

fn config() -> WidgetConfig {
    WidgetConfig {
        target: customer_care(),
        modalities: Modalities::ALL,
        privacy: PrivacyPolicy {
            url: "https://shop.example.com/privacy".into(),
            text: "I agree to the processing of my data.".into(),
            version: "2024-05".into(),
        },
        availability: Availability::Open,
        theme: Theme {
            accent_color: Some("#0a7cff".into()),
            position: Position::BottomRight,
        },
        languages: vec!["en".into(), "de".into()],
        transcript_email: false,
        opens_at: None,
        queue_when_unavailable: false,
        expected_wait: None,
        offline_messages: false,
        attachment_max_bytes: None,
    }
}

const CONFIG_JSON: &str = r##"{
  "target": {"kind": "service", "display_name": "Customer Care"},
  "modalities": ["chat", "audio", "video", "screen_share"],
  "privacy": {
    "url": "https://shop.example.com/privacy",
    "text": "I agree to the processing of my data.",
    "version": "2024-05"
  },
  "availability": "open",
  "theme": {"accent_color": "#0a7cff", "position": "bottom_right"},
  "languages": ["en", "de"]
}"##;

// ---------------------------------------------------------------------------------------
// Checking helpers.

/// A value and the JSON it must encode to (and decode from).
type Case<T> = (T, &'static str);

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("golden JSON does not parse: {e}\n{text}"))
}

/// Encodes `value` and compares with `golden` as JSON values, then decodes `golden` and
/// compares with `value`.
fn check<T>(case: Case<T>, decode: fn(&str) -> Result<T, String>)
where
    T: Serialize + PartialEq + Debug,
{
    let (value, golden) = case;
    let encoded = encode(&value);
    assert_eq!(
        json(&encoded),
        json(golden),
        "encoding of {value:?} differs from the golden JSON"
    );
    let decoded = decode(golden).unwrap_or_else(|e| panic!("golden JSON does not decode: {e}"));
    assert_eq!(decoded, value, "golden JSON decodes to another value");
    // The encoder's own output decodes too (within the limits, valid identifiers).
    let again = decode(&encoded).unwrap_or_else(|e| panic!("own output does not decode: {e}"));
    assert_eq!(again, value);
}

fn dec_client(text: &str) -> Result<ClientFrame, String> {
    decode_client(text).map_err(|e| e.to_string())
}

fn dec_server(text: &str) -> Result<ServerFrame, String> {
    decode_server(text).map_err(|e| e.to_string())
}

fn dec_serde<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn check_client(case: Case<ClientFrame>) {
    assert_eq!(
        tag(&json(case.1), "type"),
        Some(case.0.type_name()),
        "type_name of {:?}",
        case.0
    );
    check(case, dec_client);
}

fn check_server(case: Case<ServerFrame>) {
    check(case, dec_server);
}

fn check_event(case: Case<SessionEvent>) {
    check(case, dec_serde::<SessionEvent>);
}

fn check_signal(case: Case<CallSignal>) {
    check(case, dec_serde::<CallSignal>);
}

/// The value of the string member `key` of a JSON object, if any.
fn tag<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------
// Client frames.

fn client_hello_case() -> Case<ClientFrame> {
    (
        ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            client: Some("interact-widget/0.1.0".into()),
            resume: Some(Resume {
                session: sid(SESSION),
                token: ResumeToken::new(TOKEN),
                last_seq: Seq(7),
            }),
        }),
        r#"{"type":"hello","protocol":1,"client":"interact-widget/0.1.0","resume":{"session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","token":"b8Jq3XzV0kR5mWn2Yt7LcP9sHf4GdA1eUoNi6rKyTwE","last_seq":7}}"#,
    )
}

fn client_hello_new_case() -> Case<ClientFrame> {
    (
        ClientFrame::Hello(Hello {
            protocol: 1,
            client: None,
            resume: None,
        }),
        r#"{"type":"hello","protocol":1}"#,
    )
}

fn client_agent_hello_case() -> Case<ClientFrame> {
    (
        ClientFrame::AgentHello(AgentHello {
            protocol: 1,
            token: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln".into(),
            client: Some("interact-console/0.1.0".into()),
            resume: BTreeMap::from([(sid(SESSION), Seq(12)), (sid(SESSION_2), Seq(41))]),
        }),
        r#"{
            "type": "agent_hello",
            "protocol": 1,
            "token": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
            "client": "interact-console/0.1.0",
            "resume": {"s_7Hq2NcX9vR4mKp1ZtY8wLb": 12, "s_2bQx8LmT5vKc9RzW4nPy1D": 41}
        }"#,
    )
}

fn client_agent_hello_minimal_case() -> Case<ClientFrame> {
    (
        ClientFrame::AgentHello(AgentHello {
            protocol: 1,
            token: "tok".into(),
            client: None,
            resume: BTreeMap::new(),
        }),
        // `resume` is always sent, even when empty.
        r#"{"type":"agent_hello","protocol":1,"token":"tok","resume":{}}"#,
    )
}

fn client_start_chat_case() -> Case<ClientFrame> {
    (
        ClientFrame::StartChat {
            context: None,
            id: mid(START_ID),
            form: PreChatForm {
                display_name: "Ann Example".into(),
                email: "ann@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: Some(FIRST_MESSAGE.into()),
            },
            call: None,
        },
        r#"{
            "type": "start_chat",
            "id": "m6a4329ef01211476-1",
            "form": {
                "display_name": "Ann Example",
                "email": "ann@example.com",
                "consent": "2024-05",
                "first_message": "Hi, my order #1042 hasn't arrived yet."
            }
        }"#,
    )
}

fn client_start_chat_unticked_case() -> Case<ClientFrame> {
    (
        ClientFrame::StartChat {
            context: None,
            id: mid(START_ID),
            form: PreChatForm {
                display_name: " Ann ".into(),
                email: "ann@example.com".into(),
                consent: None,
                first_message: None,
            },
            call: None,
        },
        // `consent` is sent as null, `first_message` is left out.
        r#"{"type":"start_chat","id":"m6a4329ef01211476-1","form":{"display_name":" Ann ","email":"ann@example.com","consent":null}}"#,
    )
}

fn shop_context() -> ChatContext {
    ChatContext {
        page_url: Some("https://shop.example.com/kettles?colour=red".into()),
        attributes: [("plan", "gold"), ("basket", "2 items")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    }
}

fn client_start_chat_context_case() -> Case<ClientFrame> {
    (
        ClientFrame::StartChat {
            id: mid(START_ID),
            form: PreChatForm {
                display_name: "Ann Example".into(),
                email: "ann@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: None,
            },
            call: None,
            context: Some(shop_context()),
        },
        // Attributes in key order; an empty context part is left out.
        r#"{"type":"start_chat","id":"m6a4329ef01211476-1","form":{"display_name":"Ann Example","email":"ann@example.com","consent":"2024-05"},"context":{"page_url":"https://shop.example.com/kettles?colour=red","attributes":{"basket":"2 items","plan":"gold"}}}"#,
    )
}

fn client_send_case() -> Case<ClientFrame> {
    (
        ClientFrame::Send {
            session: None,
            id: mid(VISITOR_MSG),
            text: "It was shipped on Monday.".into(),
            after: None,
        },
        r#"{"type":"send","id":"me5d46330166ae111-2","text":"It was shipped on Monday."}"#,
    )
}

fn client_send_agent_case() -> Case<ClientFrame> {
    (
        ClientFrame::Send {
            session: Some(sid(SESSION)),
            id: mid(AGENT_MSG),
            text: "Hello Ann,\nlet me check.".into(),
            after: None,
        },
        r#"{"type":"send","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","id":"m0f3a9c47b2e1d805-1","text":"Hello Ann,\nlet me check."}"#,
    )
}

fn client_typing_case() -> Case<ClientFrame> {
    (
        ClientFrame::Typing {
            session: None,
            active: true,
        },
        r#"{"type":"typing","active":true}"#,
    )
}

fn client_receipt_case() -> Case<ClientFrame> {
    (
        ClientFrame::Receipt {
            session: Some(sid(SESSION)),
            up_to: Seq(7),
            state: ReceiptState::Read,
        },
        r#"{"type":"receipt","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","up_to":7,"state":"read"}"#,
    )
}

fn client_sync_case() -> Case<ClientFrame> {
    (
        ClientFrame::Sync {
            session: None,
            after: Seq(38),
        },
        r#"{"type":"sync","after":38}"#,
    )
}

fn client_end_case() -> Case<ClientFrame> {
    (
        ClientFrame::End {
            session: Some(sid(SESSION)),
        },
        r#"{"type":"end","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb"}"#,
    )
}

fn client_call_case() -> Case<ClientFrame> {
    (
        ClientFrame::Call {
            session: None,
            signal: CallSignal::Start {
                call: call_id(),
                media: CallMedia::Video,
            },
        },
        r#"{"type":"call","signal":{"op":"start","call":"ce75801c1cd4cea77-3","media":"video"}}"#,
    )
}

fn client_set_presence_case() -> Case<ClientFrame> {
    (
        ClientFrame::SetPresence {
            presence: Presence::Busy,
        },
        r#"{"type":"set_presence","presence":"busy"}"#,
    )
}

fn client_accept_case() -> Case<ClientFrame> {
    (
        ClientFrame::Accept {
            session: sid(SESSION),
        },
        r#"{"type":"accept","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb"}"#,
    )
}

fn client_decline_case() -> Case<ClientFrame> {
    (
        ClientFrame::Decline {
            session: sid(SESSION_2),
        },
        r#"{"type":"decline","session":"s_2bQx8LmT5vKc9RzW4nPy1D"}"#,
    )
}

fn client_transfer_case() -> Case<ClientFrame> {
    (
        ClientFrame::Transfer {
            session: sid(SESSION),
            to: TransferTarget {
                kind: TargetKind::Service,
                id: TargetId::new("billing").expect("valid"),
            },
        },
        r#"{"type":"transfer","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","to":{"kind":"service","id":"billing"}}"#,
    )
}

fn client_ping_case() -> Case<ClientFrame> {
    (
        ClientFrame::Ping { nonce: 7 },
        r#"{"type":"ping","nonce":7}"#,
    )
}

fn client_rate_case() -> Case<ClientFrame> {
    (
        ClientFrame::Rate {
            id: mid("m6a4329ef01211476-9"),
            score: 4,
            comment: Some("Quick and friendly, thanks!".into()),
        },
        r#"{"type":"rate","id":"m6a4329ef01211476-9","score":4,"comment":"Quick and friendly, thanks!"}"#,
    )
}

fn client_email_transcript_case() -> Case<ClientFrame> {
    (
        ClientFrame::EmailTranscript {
            id: mid("m6a4329ef01211476-10"),
        },
        r#"{"type":"email_transcript","id":"m6a4329ef01211476-10"}"#,
    )
}

fn client_leave_message_case() -> Case<ClientFrame> {
    (
        ClientFrame::LeaveMessage {
            id: mid("m6a4329ef01211476-11"),
            form: PreChatForm {
                display_name: "Vera Visitor".into(),
                email: "vera@example.com".into(),
                consent: Some("2024-05".into()),
                first_message: Some("Please call me back about order 1234.".into()),
            },
            context: None,
        },
        r#"{"type":"leave_message","id":"m6a4329ef01211476-11","form":{"display_name":"Vera Visitor","email":"vera@example.com","consent":"2024-05","first_message":"Please call me back about order 1234."}}"#,
    )
}

fn client_identify_case() -> Case<ClientFrame> {
    (
        ClientFrame::Identify {
            id: mid("m6a4329ef01211476-11"),
            visitor: "user-42".into(),
            hash: "0a9ae7fcbdbf1d0ed221f6cf964feaf4ebfb76e3b7046bed97d7c5537d10dc8b".into(),
        },
        r#"{"type":"identify","id":"m6a4329ef01211476-11","visitor":"user-42","hash":"0a9ae7fcbdbf1d0ed221f6cf964feaf4ebfb76e3b7046bed97d7c5537d10dc8b"}"#,
    )
}

fn client_cases() -> Vec<Case<ClientFrame>> {
    vec![
        client_hello_case(),
        client_hello_new_case(),
        client_agent_hello_case(),
        client_agent_hello_minimal_case(),
        client_start_chat_case(),
        client_start_chat_unticked_case(),
        client_start_chat_context_case(),
        client_send_case(),
        client_send_agent_case(),
        client_typing_case(),
        client_receipt_case(),
        client_sync_case(),
        client_end_case(),
        client_call_case(),
        client_set_presence_case(),
        client_accept_case(),
        client_decline_case(),
        client_transfer_case(),
        client_ping_case(),
        client_rate_case(),
        client_email_transcript_case(),
        client_leave_message_case(),
        client_identify_case(),
    ]
}

#[test]
fn client_hello() {
    check_client(client_hello_case());
    check_client(client_hello_new_case());
}

#[test]
fn client_hello_exact_text() {
    // Pins the field order: tag first, then fields in declaration order.
    let (value, golden) = client_hello_case();
    assert_eq!(encode(&value), golden);
}

#[test]
fn client_agent_hello() {
    check_client(client_agent_hello_case());
    check_client(client_agent_hello_minimal_case());
}

#[test]
fn client_start_chat() {
    check_client(client_start_chat_case());
    check_client(client_start_chat_unticked_case());
    check_client(client_start_chat_context_case());
    // Older clients send no context; a context with neither member is an empty one.
    let bare = r#"{"type":"start_chat","id":"m1","form":{"display_name":"A","email":"a@b.c","consent":null},"context":{}}"#;
    let Ok(ClientFrame::StartChat { context, .. }) = decode_client(bare) else {
        panic!("start_chat expected")
    };
    assert_eq!(context, Some(ChatContext::default()));
}

#[test]
fn client_send() {
    check_client(client_send_case());
    check_client(client_send_agent_case());
}

#[test]
fn client_typing() {
    check_client(client_typing_case());
}

#[test]
fn client_receipt() {
    check_client(client_receipt_case());
}

#[test]
fn client_sync() {
    check_client(client_sync_case());
}

#[test]
fn client_leave_message() {
    check_client(client_leave_message_case());
}

#[test]
fn identified_visitors() {
    check_client(client_identify_case());
    check_server(server_history_case());
    check_server((
        ServerFrame::History {
            id: mid("m1-1"),
            events: vec![],
        },
        r#"{"type":"history","id":"m1-1","events":[]}"#,
    ));
    // A visitor who is verified now: the agent sees the website's id for them.
    let mut ann = ann();
    ann.verified_id = Some("user-42".into());
    let text = serde_json::to_string(&ann).expect("encode");
    assert!(text.ends_with(r#","verified_id":"user-42"}"#), "{text}");
}

#[test]
fn client_after_chat() {
    check_client(client_rate_case());
    check_client(client_email_transcript_case());
    check_client((
        ClientFrame::Rate {
            id: mid("m1-1"),
            score: 1,
            comment: None,
        },
        r#"{"type":"rate","id":"m1-1","score":1}"#,
    ));
    check_server(server_done_case());
    let with_email = CONFIG_JSON.replace(
        r#""languages": ["en", "de"]"#,
        r#""languages": ["en", "de"], "transcript_email": true"#,
    );
    let c: WidgetConfig = serde_json::from_str(&with_email).expect("config");
    assert!(c.transcript_email);
    assert_eq!(
        serde_json::to_value(&c).expect("json")["transcript_email"],
        serde_json::json!(true)
    );
}

#[test]
fn client_end() {
    check_client(client_end_case());
    check_client((ClientFrame::End { session: None }, r#"{"type":"end"}"#));
}

#[test]
fn client_call() {
    check_client(client_call_case());
}

#[test]
fn client_set_presence() {
    check_client(client_set_presence_case());
}

#[test]
fn client_accept() {
    check_client(client_accept_case());
}

#[test]
fn client_decline() {
    check_client(client_decline_case());
}

#[test]
fn client_transfer() {
    check_client(client_transfer_case());
}

#[test]
fn client_ping() {
    check_client(client_ping_case());
    // `nonce` defaults to 0 when missing.
    assert_eq!(
        decode_client(r#"{"type":"ping"}"#),
        Ok(ClientFrame::Ping { nonce: 0 })
    );
}

#[test]
fn client_unknown() {
    for text in [
        r#"{"type":"teleport","to":"mars"}"#,
        r#"{"type":"unknown"}"#,
        r#"{"type":"hello_v2","protocol":2}"#,
    ] {
        assert_eq!(decode_client(text), Ok(ClientFrame::Unknown), "{text}");
    }
    // Nobody sends it, but it encodes with its tag.
    assert_eq!(encode(&ClientFrame::Unknown), r#"{"type":"unknown"}"#);
}

#[test]
fn client_session_accessor() {
    let (send, _) = client_send_agent_case();
    assert_eq!(send.session(), Some(&sid(SESSION)));
    let (accept, _) = client_accept_case();
    assert_eq!(accept.session(), Some(&sid(SESSION)));
    let (hello, _) = client_hello_case();
    assert_eq!(hello.session(), None);
}

// ---------------------------------------------------------------------------------------
// Server frames.

fn server_welcome_visitor_case() -> Case<ServerFrame> {
    (
        ServerFrame::Welcome {
            protocol: 1,
            config: Some(config()),
            session: Some(SessionInfo {
                session: sid(SESSION),
                head: Seq(12),
            }),
            agent: None,
            heads: Default::default(),
        },
        r##"{
            "type": "welcome",
            "protocol": 1,
            "config": {
                "target": {"kind": "service", "display_name": "Customer Care"},
                "modalities": ["chat", "audio", "video", "screen_share"],
                "privacy": {
                    "url": "https://shop.example.com/privacy",
                    "text": "I agree to the processing of my data.",
                    "version": "2024-05"
                },
                "availability": "open",
                "theme": {"accent_color": "#0a7cff", "position": "bottom_right"},
                "languages": ["en", "de"]
            },
            "session": {"session": "s_7Hq2NcX9vR4mKp1ZtY8wLb", "head": 12}
        }"##,
    )
}

fn server_welcome_agent_case() -> Case<ServerFrame> {
    (
        ServerFrame::Welcome {
            protocol: 1,
            config: None,
            session: None,
            agent: Some(sam()),
            heads: Default::default(),
        },
        r#"{"type":"welcome","protocol":1,"agent":{"id":"agt_4Rk9Zp2Lq7","display_name":"Sam"}}"#,
    )
}

fn server_welcome_agent_heads_case() -> Case<ServerFrame> {
    (
        ServerFrame::Welcome {
            protocol: 1,
            config: None,
            session: None,
            agent: Some(sam()),
            heads: BTreeMap::from([(sid(SESSION), Seq(12)), (sid(SESSION_2), Seq(41))]),
        },
        r#"{
            "type": "welcome",
            "protocol": 1,
            "agent": {"id": "agt_4Rk9Zp2Lq7", "display_name": "Sam"},
            "heads": {"s_7Hq2NcX9vR4mKp1ZtY8wLb": 12, "s_2bQx8LmT5vKc9RzW4nPy1D": 41}
        }"#,
    )
}

fn server_replayed_case() -> Case<ServerFrame> {
    (
        ServerFrame::Replayed {
            session: sid(SESSION_2),
            through: Seq(256),
            head: Seq(1170),
        },
        r#"{"type":"replayed","session":"s_2bQx8LmT5vKc9RzW4nPy1D","through":256,"head":1170}"#,
    )
}

fn server_session_started_case() -> Case<ServerFrame> {
    (
        ServerFrame::SessionStarted {
            session: sid(SESSION),
            start_id: mid(START_ID),
            resume_token: ResumeToken::new(TOKEN),
        },
        r#"{"type":"session_started","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","start_id":"m6a4329ef01211476-1","resume_token":"b8Jq3XzV0kR5mWn2Yt7LcP9sHf4GdA1eUoNi6rKyTwE"}"#,
    )
}

fn server_event_case() -> Case<ServerFrame> {
    (
        ServerFrame::Event(EventFrame {
            session: sid(SESSION),
            seq: Seq(2),
            at: UnixMillis(1_717_171_200_412),
            event: SessionEvent::Message {
                id: mid(START_ID),
                from: Party::Visitor,
                author: Some("Ann Example".into()),
                text: FIRST_MESSAGE.into(),
            },
        }),
        r#"{"type":"event","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","seq":2,"at":1717171200412,"event":{"kind":"message","id":"m6a4329ef01211476-1","from":"visitor","author":"Ann Example","text":"Hi, my order #1042 hasn't arrived yet."}}"#,
    )
}

fn server_ack_case() -> Case<ServerFrame> {
    (
        ServerFrame::Ack {
            session: sid(SESSION),
            id: mid(VISITOR_MSG),
            seq: Seq(9),
        },
        r#"{"type":"ack","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","id":"me5d46330166ae111-2","seq":9}"#,
    )
}

fn server_typing_case() -> Case<ServerFrame> {
    (
        ServerFrame::Typing {
            session: sid(SESSION),
            from: Party::Agent,
            active: true,
        },
        r#"{"type":"typing","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","from":"agent","active":true}"#,
    )
}

fn server_offer_case() -> Case<ServerFrame> {
    (
        ServerFrame::Offer(Offer {
            session: sid(SESSION),
            visitor: ann(),
            target: customer_care(),
            first_message: Some(FIRST_MESSAGE.into()),
            expires_at: UnixMillis(1_717_171_230_000),
            call: None,
        }),
        r#"{
            "type": "offer",
            "session": "s_7Hq2NcX9vR4mKp1ZtY8wLb",
            "visitor": {"display_name": "Ann Example", "email": "ann@example.com"},
            "target": {"kind": "service", "display_name": "Customer Care"},
            "first_message": "Hi, my order #1042 hasn't arrived yet.",
            "expires_at": 1717171230000
        }"#,
    )
}

fn server_offer_without_message_case() -> Case<ServerFrame> {
    (
        ServerFrame::Offer(Offer {
            session: sid(SESSION_2),
            visitor: ann(),
            target: Target {
                kind: TargetKind::User,
                display_name: "Sam".into(),
            },
            first_message: None,
            expires_at: UnixMillis(1),
            call: None,
        }),
        r#"{"type":"offer","session":"s_2bQx8LmT5vKc9RzW4nPy1D","visitor":{"display_name":"Ann Example","email":"ann@example.com"},"target":{"kind":"user","display_name":"Sam"},"expires_at":1}"#,
    )
}

fn server_offer_withdrawn_case() -> Case<ServerFrame> {
    (
        ServerFrame::OfferWithdrawn {
            session: sid(SESSION_2),
        },
        r#"{"type":"offer_withdrawn","session":"s_2bQx8LmT5vKc9RzW4nPy1D"}"#,
    )
}

fn server_presence_case() -> Case<ServerFrame> {
    (
        ServerFrame::Presence {
            presence: Presence::Away,
        },
        r#"{"type":"presence","presence":"away"}"#,
    )
}

fn server_pong_case() -> Case<ServerFrame> {
    (
        ServerFrame::Pong {
            nonce: 7,
            heads: BTreeMap::from([(sid(SESSION), Seq(12)), (sid(SESSION_2), Seq(41))]),
        },
        r#"{"type":"pong","nonce":7,"heads":{"s_7Hq2NcX9vR4mKp1ZtY8wLb":12,"s_2bQx8LmT5vKc9RzW4nPy1D":41}}"#,
    )
}

fn server_ice_servers_case() -> Case<ServerFrame> {
    (
        ServerFrame::IceServers {
            servers: vec![
                IceServer {
                    urls: vec!["stun:stun.example.com:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec![
                        "turn:turn.example.com:3478?transport=udp".into(),
                        "turns:turn.example.com:5349?transport=tcp".into(),
                    ],
                    username: Some("1717243200:s_7Hq2NcX9vR4mKp1ZtY8wLb".into()),
                    credential: Some("T6SnDCiUQk/bKFeMWthxUniNSgs=".into()),
                },
            ],
            expires_at: Some(UnixMillis(1_717_243_200_000)),
        },
        r#"{
            "type": "ice_servers",
            "servers": [
                {"urls": ["stun:stun.example.com:3478"]},
                {
                    "urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"],
                    "username": "1717243200:s_7Hq2NcX9vR4mKp1ZtY8wLb",
                    "credential": "T6SnDCiUQk/bKFeMWthxUniNSgs="
                }
            ],
            "expires_at": 1717243200000
        }"#,
    )
}

fn server_error_case() -> Case<ServerFrame> {
    (
        ServerFrame::Error(ErrorFrame {
            code: ErrorCode::InvalidForm,
            message: "the pre-chat form was refused".into(),
            id: Some(mid(START_ID)),
            session: None,
            fields: Some(FormErrors {
                fields: vec![
                    FieldProblem {
                        field: Field::DisplayName,
                        error: FieldError::TooLong { max: 80 },
                    },
                    FieldProblem {
                        field: Field::Email,
                        error: FieldError::InvalidEmail,
                    },
                    FieldProblem {
                        field: Field::Consent,
                        error: FieldError::ConsentOutdated {
                            current: "2024-06".into(),
                        },
                    },
                    FieldProblem {
                        field: Field::FirstMessage,
                        error: FieldError::ControlCharacters,
                    },
                ],
            }),
            fatal: false,
        }),
        r#"{
            "type": "error",
            "code": "invalid_form",
            "message": "the pre-chat form was refused",
            "id": "m6a4329ef01211476-1",
            "fields": {"fields": [
                {"field": "display_name", "code": "too_long", "max": 80},
                {"field": "email", "code": "invalid_email"},
                {"field": "consent", "code": "consent_outdated", "current": "2024-06"},
                {"field": "first_message", "code": "control_characters"}
            ]},
            "fatal": false
        }"#,
    )
}

fn server_error_fatal_case() -> Case<ServerFrame> {
    let ServerFrame::Error(mut frame) =
        ServerFrame::error(ErrorCode::Unauthorized, "the agent token has expired")
    else {
        unreachable!("ServerFrame::error builds an error frame")
    };
    frame.session = Some(sid(SESSION));
    frame.fatal = true;
    (
        ServerFrame::Error(frame),
        r#"{"type":"error","code":"unauthorized","message":"the agent token has expired","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","fatal":true}"#,
    )
}

fn server_done_case() -> Case<ServerFrame> {
    (
        ServerFrame::Done {
            id: mid("m6a4329ef01211476-9"),
        },
        r#"{"type":"done","id":"m6a4329ef01211476-9"}"#,
    )
}

fn server_history_case() -> Case<ServerFrame> {
    let message = |seq: u64, at: u64, id: &str, from: Party, author: &str, text: &str| EventFrame {
        session: sid(SESSION_2),
        seq: Seq(seq),
        at: UnixMillis(at),
        event: SessionEvent::Message {
            id: mid(id),
            from,
            author: Some(author.into()),
            text: text.into(),
        },
    };
    (
        ServerFrame::History {
            id: mid("m6a4329ef01211476-11"),
            events: vec![
                message(
                    2,
                    1_767_225_600_000,
                    START_ID,
                    Party::Visitor,
                    "Ann",
                    FIRST_MESSAGE,
                ),
                message(
                    4,
                    1_767_225_660_000,
                    AGENT_MSG,
                    Party::Agent,
                    "Sam",
                    "It ships today.",
                ),
            ],
        },
        r#"{"type":"history","id":"m6a4329ef01211476-11","events":[{"session":"s_2bQx8LmT5vKc9RzW4nPy1D","seq":2,"at":1767225600000,"event":{"kind":"message","id":"m6a4329ef01211476-1","from":"visitor","author":"Ann","text":"Hi, my order #1042 hasn't arrived yet."}},{"session":"s_2bQx8LmT5vKc9RzW4nPy1D","seq":4,"at":1767225660000,"event":{"kind":"message","id":"m0f3a9c47b2e1d805-1","from":"agent","author":"Sam","text":"It ships today."}}]}"#,
    )
}

fn server_cases() -> Vec<Case<ServerFrame>> {
    vec![
        server_welcome_visitor_case(),
        server_welcome_agent_case(),
        server_welcome_agent_heads_case(),
        server_session_started_case(),
        server_replayed_case(),
        server_event_case(),
        server_ack_case(),
        server_typing_case(),
        server_offer_case(),
        server_offer_without_message_case(),
        server_offer_withdrawn_case(),
        server_presence_case(),
        server_pong_case(),
        server_ice_servers_case(),
        server_error_case(),
        server_error_fatal_case(),
        server_done_case(),
        server_history_case(),
    ]
}

#[test]
fn server_welcome() {
    check_server(server_welcome_visitor_case());
    check_server(server_welcome_agent_case());
    check_server(server_welcome_agent_heads_case());
    check_server((
        ServerFrame::Welcome {
            protocol: 1,
            config: None,
            session: None,
            agent: None,
            heads: Default::default(),
        },
        r#"{"type":"welcome","protocol":1}"#,
    ));
}

#[test]
fn server_session_started() {
    check_server(server_session_started_case());
}

#[test]
fn server_replayed() {
    check_server(server_replayed_case());
}

#[test]
fn server_event() {
    check_server(server_event_case());
}

#[test]
fn server_event_exact_text() {
    let (value, golden) = server_event_case();
    assert_eq!(encode(&value), golden);
}

#[test]
fn server_ack() {
    check_server(server_ack_case());
}

#[test]
fn server_typing() {
    check_server(server_typing_case());
}

#[test]
fn server_offer() {
    check_server(server_offer_case());
    check_server(server_offer_without_message_case());
}

#[test]
fn server_offer_withdrawn() {
    check_server(server_offer_withdrawn_case());
}

#[test]
fn server_presence() {
    check_server(server_presence_case());
}

#[test]
fn server_pong() {
    check_server(server_pong_case());
    check_server((
        ServerFrame::Pong {
            nonce: 0,
            heads: BTreeMap::new(),
        },
        r#"{"type":"pong","nonce":0,"heads":{}}"#,
    ));
    // `heads` defaults to empty when missing.
    assert_eq!(
        decode_server(r#"{"type":"pong","nonce":3}"#),
        Ok(ServerFrame::Pong {
            nonce: 3,
            heads: BTreeMap::new()
        })
    );
}

#[test]
fn server_ice_servers() {
    check_server(server_ice_servers_case());
    // No servers (none configured): no `expires_at`.
    check_server((
        ServerFrame::IceServers {
            servers: Vec::new(),
            expires_at: None,
        },
        r#"{"type":"ice_servers","servers":[]}"#,
    ));
    // `servers` is required; unknown members of a server are ignored.
    assert!(decode_server(r#"{"type":"ice_servers"}"#).is_err());
    assert_eq!(
        decode_server(
            r#"{"type":"ice_servers","servers":[{"urls":["stun:a.example"],"credentialType":"password"}]}"#
        ),
        Ok(ServerFrame::IceServers {
            servers: vec![IceServer {
                urls: vec!["stun:a.example".into()],
                username: None,
                credential: None,
            }],
            expires_at: None,
        })
    );
}

#[test]
fn server_error() {
    check_server(server_error_case());
    check_server(server_error_fatal_case());
    // `fatal` defaults to false when missing.
    let ServerFrame::Error(e) =
        decode_server(r#"{"type":"error","code":"internal","message":"x"}"#).expect("decodes")
    else {
        panic!("not an error frame");
    };
    assert!(!e.fatal);
}

#[test]
fn server_unknown() {
    for text in [
        r#"{"type":"teleport"}"#,
        r#"{"type":"unknown"}"#,
        r#"{"type":"survey","questions":[1,2,3]}"#,
    ] {
        assert_eq!(decode_server(text), Ok(ServerFrame::Unknown), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Session events.

fn event_started_case() -> Case<SessionEvent> {
    (
        SessionEvent::Started {
            context: None,
            visitor: ann(),
            consent: Consent {
                policy_version: "2024-05".into(),
                at: UnixMillis(1_717_171_200_000),
            },
            target: customer_care(),
            call: None,
        },
        r#"{
            "kind": "started",
            "visitor": {"display_name": "Ann Example", "email": "ann@example.com"},
            "consent": {"policy_version": "2024-05", "at": 1717171200000},
            "target": {"kind": "service", "display_name": "Customer Care"}
        }"#,
    )
}

fn event_message_case() -> Case<SessionEvent> {
    (
        SessionEvent::Message {
            id: mid(AGENT_MSG),
            from: Party::Agent,
            author: Some("Sam".into()),
            text: "Hello Ann, let me check that for you.".into(),
        },
        r#"{"kind":"message","id":"m0f3a9c47b2e1d805-1","from":"agent","author":"Sam","text":"Hello Ann, let me check that for you."}"#,
    )
}

fn event_message_system_case() -> Case<SessionEvent> {
    (
        SessionEvent::Message {
            id: mid("wf-greeting-1"),
            from: Party::System,
            author: None,
            text: "<b>not markup</b>".into(),
        },
        r#"{"kind":"message","id":"wf-greeting-1","from":"system","text":"<b>not markup</b>"}"#,
    )
}

fn event_queued_case() -> Case<SessionEvent> {
    (
        SessionEvent::Queued { position: 2 },
        r#"{"kind":"queued","position":2}"#,
    )
}

fn event_agent_joined_case() -> Case<SessionEvent> {
    (
        SessionEvent::AgentJoined { agent: sam() },
        r#"{"kind":"agent_joined","agent":{"id":"agt_4Rk9Zp2Lq7","display_name":"Sam"}}"#,
    )
}

fn event_agent_left_case() -> Case<SessionEvent> {
    (
        SessionEvent::AgentLeft { agent: sam() },
        r#"{"kind":"agent_left","agent":{"id":"agt_4Rk9Zp2Lq7","display_name":"Sam"}}"#,
    )
}

fn customer_care_info() -> TargetInfo {
    TargetInfo {
        kind: TargetKind::Service,
        id: TargetId::new("support").expect("valid"),
        display_name: "Customer Care".into(),
    }
}

fn event_transferred_case() -> Case<SessionEvent> {
    (
        SessionEvent::Transferred {
            by: Some(sam()),
            from: customer_care_info(),
            to: TargetInfo {
                kind: TargetKind::Service,
                id: TargetId::new("billing").expect("valid"),
                display_name: "Billing".into(),
            },
        },
        r#"{"kind":"transferred","by":{"id":"agt_4Rk9Zp2Lq7","display_name":"Sam"},"from":{"kind":"service","id":"support","display_name":"Customer Care"},"to":{"kind":"service","id":"billing","display_name":"Billing"}}"#,
    )
}

fn event_transferred_by_workflow_case() -> Case<SessionEvent> {
    (
        SessionEvent::Transferred {
            by: None,
            from: customer_care_info(),
            to: TargetInfo {
                kind: TargetKind::Service,
                id: TargetId::new("billing").expect("valid"),
                display_name: "Billing".into(),
            },
        },
        r#"{"kind":"transferred","from":{"kind":"service","id":"support","display_name":"Customer Care"},"to":{"kind":"service","id":"billing","display_name":"Billing"}}"#,
    )
}

fn event_receipt_case() -> Case<SessionEvent> {
    (
        SessionEvent::Receipt {
            by: Party::Visitor,
            up_to: Seq(7),
            state: ReceiptState::Delivered,
        },
        r#"{"kind":"receipt","by":"visitor","up_to":7,"state":"delivered"}"#,
    )
}

fn event_undelivered_case() -> Case<SessionEvent> {
    (
        SessionEvent::Undelivered {
            message: MessageId::new("m-42").expect("id"),
            from: Party::Agent,
            reason: "The recipient is not a WhatsApp user.".into(),
        },
        r#"{"kind":"undelivered","message":"m-42","from":"agent","reason":"The recipient is not a WhatsApp user."}"#,
    )
}

fn event_attachment_case() -> Case<SessionEvent> {
    (
        SessionEvent::Attachment {
            id: AttachmentId::new("a_3f9c2e71b04d8a65").expect("id"),
            from: Party::Visitor,
            author: None,
            name: "receipt.png".into(),
            mime: "image/png".into(),
            size: 48213,
        },
        r#"{"kind":"attachment","id":"a_3f9c2e71b04d8a65","from":"visitor","name":"receipt.png","mime":"image/png","size":48213}"#,
    )
}

fn event_attachment_agent_case() -> Case<SessionEvent> {
    (
        SessionEvent::Attachment {
            id: AttachmentId::new("a_0be4d91c7a2f5e38").expect("id"),
            from: Party::Agent,
            author: Some("Alex".into()),
            name: "return-label.pdf".into(),
            mime: "application/pdf".into(),
            size: 120_877,
        },
        r#"{"kind":"attachment","id":"a_0be4d91c7a2f5e38","from":"agent","author":"Alex","name":"return-label.pdf","mime":"application/pdf","size":120877}"#,
    )
}

fn event_started_whatsapp_case() -> Case<SessionEvent> {
    let (mut event, _) = event_started_case();
    if let SessionEvent::Started { visitor, .. } = &mut event {
        visitor.email = String::new();
        visitor.channel = Some("whatsapp".into());
        visitor.phone = Some("+447700900123".into());
    }
    (
        event,
        r#"{
            "kind": "started",
            "visitor": {"display_name": "Ann Example", "email": "", "channel": "whatsapp", "phone": "+447700900123"},
            "consent": {"policy_version": "2024-05", "at": 1717171200000},
            "target": {"kind": "service", "display_name": "Customer Care"}
        }"#,
    )
}

fn event_started_context_case() -> Case<SessionEvent> {
    let (mut event, _) = event_started_case();
    if let SessionEvent::Started { context, .. } = &mut event {
        *context = Some(Box::new(shop_context()));
    }
    (
        event,
        r#"{
            "kind": "started",
            "visitor": {"display_name": "Ann Example", "email": "ann@example.com"},
            "consent": {"policy_version": "2024-05", "at": 1717171200000},
            "target": {"kind": "service", "display_name": "Customer Care"},
            "context": {"page_url": "https://shop.example.com/kettles?colour=red", "attributes": {"basket": "2 items", "plan": "gold"}}
        }"#,
    )
}

fn event_call_case() -> Case<SessionEvent> {
    (
        SessionEvent::Call {
            from: Party::Agent,
            signal: CallSignal::Accept { call: call_id() },
        },
        r#"{"kind":"call","from":"agent","signal":{"op":"accept","call":"ce75801c1cd4cea77-3"}}"#,
    )
}

fn event_ended_case() -> Case<SessionEvent> {
    (
        SessionEvent::Ended {
            reason: EndReason::AgentEnded,
        },
        r#"{"kind":"ended","reason":"agent_ended"}"#,
    )
}

fn event_cases() -> Vec<Case<SessionEvent>> {
    vec![
        event_started_case(),
        event_message_case(),
        event_message_system_case(),
        event_queued_case(),
        event_agent_joined_case(),
        event_agent_left_case(),
        event_transferred_case(),
        event_transferred_by_workflow_case(),
        event_receipt_case(),
        event_undelivered_case(),
        event_attachment_case(),
        event_attachment_agent_case(),
        event_started_whatsapp_case(),
        event_started_context_case(),
        event_call_case(),
        event_ended_case(),
    ]
}

#[test]
fn event_started() {
    check_event(event_started_case());
    check_event(event_started_context_case());
}

#[test]
fn event_message() {
    check_event(event_message_case());
    check_event(event_message_system_case());
}

#[test]
fn event_transferred() {
    check_event(event_transferred_case());
    check_event(event_transferred_by_workflow_case());
}

#[test]
fn event_queued() {
    check_event(event_queued_case());
}

#[test]
fn event_agent_joined() {
    check_event(event_agent_joined_case());
}

#[test]
fn event_agent_left() {
    check_event(event_agent_left_case());
}

#[test]
fn event_receipt() {
    check_event(event_receipt_case());
}

#[test]
fn event_undelivered() {
    check_event(event_undelivered_case());
}

#[test]
fn event_attachment() {
    check_event(event_attachment_case());
    check_event(event_attachment_agent_case());
}

#[test]
fn event_started_on_whatsapp() {
    check_event(event_started_whatsapp_case());
}

#[test]
fn event_call() {
    check_event(event_call_case());
}

#[test]
fn event_ended() {
    check_event(event_ended_case());
}

#[test]
fn event_unknown() {
    let e: SessionEvent =
        serde_json::from_str(r#"{"kind":"poll","question":"How did we do?"}"#).expect("tolerant");
    assert_eq!(e, SessionEvent::Unknown);
    // An unknown event inside a frame still carries its sequence number.
    let f = decode_server(
        r#"{"type":"event","session":"s_7Hq2NcX9vR4mKp1ZtY8wLb","seq":4,"at":1,"event":{"kind":"poll"}}"#,
    )
    .expect("tolerant");
    let ServerFrame::Event(ev) = f else {
        panic!("not an event frame");
    };
    assert_eq!((ev.seq, ev.event), (Seq(4), SessionEvent::Unknown));
}

// ---------------------------------------------------------------------------------------
// Call signals.

fn signal_start_case() -> Case<CallSignal> {
    (
        CallSignal::Start {
            call: call_id(),
            media: CallMedia::Audio,
        },
        r#"{"op":"start","call":"ce75801c1cd4cea77-3","media":"audio"}"#,
    )
}

fn signal_accept_case() -> Case<CallSignal> {
    (
        CallSignal::Accept { call: call_id() },
        r#"{"op":"accept","call":"ce75801c1cd4cea77-3"}"#,
    )
}

fn signal_offer_case() -> Case<CallSignal> {
    (
        CallSignal::Offer {
            call: call_id(),
            sdp: SDP.into(),
        },
        r#"{"op":"offer","call":"ce75801c1cd4cea77-3","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"}"#,
    )
}

fn signal_answer_case() -> Case<CallSignal> {
    (
        CallSignal::Answer {
            call: call_id(),
            sdp: SDP.into(),
        },
        r#"{"op":"answer","call":"ce75801c1cd4cea77-3","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"}"#,
    )
}

fn signal_ice_case() -> Case<CallSignal> {
    (
        CallSignal::Ice {
            call: call_id(),
            candidate: IceCandidate {
                candidate: "candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 192.168.1.20 rport 54400 generation 0".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
        },
        r#"{"op":"ice","call":"ce75801c1cd4cea77-3","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 54400 typ srflx raddr 192.168.1.20 rport 54400 generation 0","sdp_mid":"0","sdp_m_line_index":0}}"#,
    )
}

fn signal_ice_end_case() -> Case<CallSignal> {
    (
        CallSignal::Ice {
            call: call_id(),
            candidate: IceCandidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_m_line_index: None,
            },
        },
        r#"{"op":"ice","call":"ce75801c1cd4cea77-3","candidate":{"candidate":""}}"#,
    )
}

fn signal_media_case() -> Case<CallSignal> {
    (
        CallSignal::Media {
            call: call_id(),
            state: MediaState {
                muted: true,
                camera: false,
                screen: true,
            },
        },
        r#"{"op":"media","call":"ce75801c1cd4cea77-3","state":{"muted":true,"camera":false,"screen":true}}"#,
    )
}

fn signal_device_changed_case() -> Case<CallSignal> {
    (
        CallSignal::DeviceChanged {
            call: call_id(),
            kind: DeviceKind::VideoInput,
        },
        r#"{"op":"device_changed","call":"ce75801c1cd4cea77-3","kind":"video_input"}"#,
    )
}

fn signal_hangup_case() -> Case<CallSignal> {
    (
        CallSignal::Hangup {
            call: call_id(),
            reason: HangupReason::NoAnswer,
        },
        r#"{"op":"hangup","call":"ce75801c1cd4cea77-3","reason":"no_answer"}"#,
    )
}

fn signal_quality_case() -> Case<CallSignal> {
    let spread = |min, median, max| Some(Spread { min, median, max });
    (
        CallSignal::Quality {
            call: call_id(),
            summary: QualitySummary {
                samples: 15,
                rtt_ms: spread(21, 34, 160),
                jitter_ms: spread(1, 3, 12),
                loss_permille: spread(0, 0, 25),
                bitrate_kbps: None,
                width_px: None,
                height_px: None,
            },
        },
        r#"{"op":"quality","call":"ce75801c1cd4cea77-3","summary":{"samples":15,"rtt_ms":{"min":21,"median":34,"max":160},"jitter_ms":{"min":1,"median":3,"max":12},"loss_permille":{"min":0,"median":0,"max":25}}}"#,
    )
}

fn signal_cases() -> Vec<Case<CallSignal>> {
    vec![
        signal_start_case(),
        signal_accept_case(),
        signal_offer_case(),
        signal_answer_case(),
        signal_ice_case(),
        signal_ice_end_case(),
        signal_media_case(),
        signal_device_changed_case(),
        signal_hangup_case(),
        signal_quality_case(),
    ]
}

#[test]
fn signal_start() {
    check_signal(signal_start_case());
}

#[test]
fn signal_accept() {
    check_signal(signal_accept_case());
}

#[test]
fn signal_offer() {
    check_signal(signal_offer_case());
}

#[test]
fn signal_answer() {
    check_signal(signal_answer_case());
}

#[test]
fn signal_ice() {
    check_signal(signal_ice_case());
    check_signal(signal_ice_end_case());
}

#[test]
fn signal_media() {
    check_signal(signal_media_case());
}

#[test]
fn signal_device_changed() {
    check_signal(signal_device_changed_case());
}

#[test]
fn signal_hangup() {
    check_signal(signal_hangup_case());
}

#[test]
fn signal_quality() {
    check_signal(signal_quality_case());
    // Unknown members, in the signal and in the summary, are ignored.
    let s: CallSignal = serde_json::from_str(
        r#"{"op":"quality","call":"ce75801c1cd4cea77-3","v":2,"summary":{"samples":1,"mos":4,"rtt_ms":{"min":1,"median":1,"max":1,"p95":1}}}"#,
    )
    .expect("tolerant");
    let CallSignal::Quality { summary, .. } = s else {
        panic!("a quality signal: {s:?}");
    };
    assert_eq!(summary.samples, 1);
    assert!(summary.is_valid());
    // A summary without its count, a figure without its median, a negative value: errors.
    for bad in [
        r#"{"samples":-1}"#,
        r#"{"rtt_ms":{"min":1,"median":1,"max":1}}"#,
        r#"{"samples":1,"rtt_ms":{"min":1,"max":1}}"#,
        r#"{"samples":1,"jitter_ms":{"min":"1","median":1,"max":1}}"#,
        r#"{"samples":4294967296}"#,
    ] {
        let text = format!(r#"{{"op":"quality","call":"c1","summary":{bad}}}"#);
        assert!(serde_json::from_str::<CallSignal>(&text).is_err(), "{bad}");
        assert!(
            serde_json::from_str::<QualitySummary>(bad).is_err(),
            "{bad}"
        );
    }
    let null: QualitySummary =
        serde_json::from_str(r#"{"samples":2,"rtt_ms":null}"#).expect("a null figure");
    assert_eq!(null.rtt_ms, None);
}

#[test]
fn signal_exact_text() {
    let (value, golden) = signal_ice_case();
    assert_eq!(encode(&value), golden);
}

#[test]
fn signal_unknown_and_call_accessor() {
    let s: CallSignal =
        serde_json::from_str(r#"{"op":"transfer","call":"c1","to":"x"}"#).expect("tolerant");
    assert_eq!(s, CallSignal::Unknown);
    assert_eq!(s.call(), None);
    for (signal, _) in signal_cases() {
        assert_eq!(signal.call(), Some(&call_id()), "{signal:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Widget configuration.

#[test]
fn config_golden() {
    check((config(), CONFIG_JSON), dec_serde::<WidgetConfig>);
}

#[test]
fn config_defaults_and_tolerance() {
    // `theme` may be missing; it is always sent.
    let minimal = r#"{
        "target": {"kind": "user", "display_name": "Sam"},
        "modalities": ["chat", "hologram", "video"],
        "privacy": {"url": "https://example.com/p", "text": "ok", "version": "1"},
        "availability": "on_holiday",
        "languages": []
    }"#;
    let c: WidgetConfig = serde_json::from_str(minimal).expect("tolerant");
    assert_eq!(c.theme, Theme::default());
    assert_eq!(c.theme.position, Position::BottomRight);
    // Unknown modality skipped; video without audio dropped.
    assert_eq!(c.modalities, Modalities::CHAT_ONLY);
    assert_eq!(c.availability, Availability::Unknown);
    assert!(!c.can_start_chat());
    let encoded: Value = serde_json::from_str(&encode(&c)).expect("json");
    assert_eq!(encoded["theme"], json(r#"{"position":"bottom_right"}"#));
    assert_eq!(encoded["modalities"], json(r#"["chat"]"#));
}

// ---------------------------------------------------------------------------------------
// Error codes, close codes and other enumerations.

const ERROR_CODES: [(ErrorCode, &str); 17] = [
    (ErrorCode::UnsupportedProtocol, "unsupported_protocol"),
    (ErrorCode::Malformed, "malformed"),
    (ErrorCode::FrameTooLarge, "frame_too_large"),
    (ErrorCode::TooDeep, "too_deep"),
    (ErrorCode::UnknownType, "unknown_type"),
    (ErrorCode::InvalidField, "invalid_field"),
    (ErrorCode::InvalidForm, "invalid_form"),
    (ErrorCode::HandshakeRequired, "handshake_required"),
    (ErrorCode::Unauthorized, "unauthorized"),
    (ErrorCode::InvalidResume, "invalid_resume"),
    (ErrorCode::UnknownSession, "unknown_session"),
    (ErrorCode::NotAllowed, "not_allowed"),
    (ErrorCode::RateLimited, "rate_limited"),
    (ErrorCode::SessionEnded, "session_ended"),
    (ErrorCode::Internal, "internal"),
    (ErrorCode::SessionFull, "session_full"),
    (ErrorCode::IdentityRefused, "identity_refused"),
];

/// Number, whether a client reconnects after it.
const CLOSE_CODES: [(CloseCode, u16, bool); 13] = [
    (CloseCode::Normal, 1000, false),
    (CloseCode::GoingAway, 1001, true),
    (CloseCode::Policy, 1008, false),
    (CloseCode::TooBig, 1009, true),
    (CloseCode::Internal, 1011, true),
    (CloseCode::UnsupportedProtocol, 4000, false),
    (CloseCode::Unauthorized, 4001, false),
    (CloseCode::ProtocolViolation, 4003, false),
    (CloseCode::HandshakeTimeout, 4004, true),
    (CloseCode::RateLimited, 4008, true),
    (CloseCode::IdleTimeout, 4009, true),
    (CloseCode::SlowConsumer, 4010, true),
    (CloseCode::Replaced, 4011, false),
];

/// Checks that `value` is the JSON string `wire` both ways.
fn check_wire<T>(value: T, wire: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    assert_eq!(
        serde_json::to_value(&value).expect("serialises"),
        Value::String(wire.into()),
        "{value:?}"
    );
    let back: T = serde_json::from_value(Value::String(wire.into())).expect("deserialises");
    assert_eq!(back, value, "{wire}");
}

#[test]
fn error_codes() {
    for (code, wire) in ERROR_CODES {
        check_wire(code, wire);
        let frame = ServerFrame::error(code, "m");
        let text = encode(&frame);
        assert!(text.contains(&format!(r#""code":"{wire}""#)), "{text}");
        assert_eq!(decode_server(&text), Ok(frame));
    }
    let distinct: BTreeSet<&str> = ERROR_CODES.iter().map(|(_, w)| *w).collect();
    assert_eq!(distinct.len(), ERROR_CODES.len());
    let unknown: ErrorCode = serde_json::from_str(r#""quota_exceeded""#).expect("tolerant");
    assert_eq!(unknown, ErrorCode::Unknown);
}

#[test]
fn close_codes() {
    assert_eq!(
        CloseCode::ALL.len(),
        CLOSE_CODES.len(),
        "a close code was added: add it to CLOSE_CODES and docs/protocol.md"
    );
    for ((code, number, reconnect), listed) in CLOSE_CODES.into_iter().zip(CloseCode::ALL) {
        assert_eq!(code, listed, "CloseCode::ALL is in numeric order");
        assert_eq!(code.code(), number, "{code:?}");
        assert_eq!(CloseCode::from_code(number), Some(code));
        assert_eq!(code.should_reconnect(), reconnect, "{code:?}");
    }
    for unlisted in [0, 1005, 1006, 1012, 3000, 4002, 4999] {
        assert_eq!(CloseCode::from_code(unlisted), None, "{unlisted}");
    }
}

#[test]
fn enumeration_wire_strings() {
    check_wire(Party::Visitor, "visitor");
    check_wire(Party::Agent, "agent");
    check_wire(Party::System, "system");
    check_wire(Presence::Available, "available");
    check_wire(Presence::Busy, "busy");
    check_wire(Presence::Away, "away");
    check_wire(Presence::Offline, "offline");
    check_wire(ReceiptState::Delivered, "delivered");
    check_wire(ReceiptState::Read, "read");
    check_wire(CallMedia::Audio, "audio");
    check_wire(CallMedia::Video, "video");
    check_wire(DeviceKind::AudioInput, "audio_input");
    check_wire(DeviceKind::VideoInput, "video_input");
    check_wire(DeviceKind::AudioOutput, "audio_output");
    check_wire(TargetKind::Service, "service");
    check_wire(TargetKind::User, "user");
    check_wire(Availability::Open, "open");
    check_wire(Availability::Closed, "closed");
    check_wire(Availability::NoAgents, "no_agents");
    check_wire(Position::BottomRight, "bottom_right");
    check_wire(Position::BottomLeft, "bottom_left");
    check_wire(Modality::Chat, "chat");
    check_wire(Modality::Audio, "audio");
    check_wire(Modality::Video, "video");
    check_wire(Modality::ScreenShare, "screen_share");
    check_wire(Field::DisplayName, "display_name");
    check_wire(Field::Email, "email");
    check_wire(Field::Consent, "consent");
    check_wire(Field::FirstMessage, "first_message");
    for (reason, wire) in END_REASONS {
        check_wire(reason, wire);
    }
    for (reason, wire) in HANGUP_REASONS {
        check_wire(reason, wire);
    }
    let e: EndReason = serde_json::from_str(r#""merged""#).expect("tolerant");
    assert_eq!(e, EndReason::Other);
    let h: HangupReason = serde_json::from_str(r#""network""#).expect("tolerant");
    assert_eq!(h, HangupReason::Other);
}

const END_REASONS: [(EndReason, &str); 8] = [
    (EndReason::VisitorEnded, "visitor_ended"),
    (EndReason::AgentEnded, "agent_ended"),
    (EndReason::NoAgent, "no_agent"),
    (EndReason::Closed, "closed"),
    (EndReason::IdleTimeout, "idle_timeout"),
    (EndReason::Workflow, "workflow"),
    (EndReason::Failed, "failed"),
    (EndReason::Other, "other"),
];

const HANGUP_REASONS: [(HangupReason, &str); 7] = [
    (HangupReason::Normal, "normal"),
    (HangupReason::Declined, "declined"),
    (HangupReason::NoAnswer, "no_answer"),
    (HangupReason::Failed, "failed"),
    (HangupReason::Busy, "busy"),
    (HangupReason::NotAllowed, "not_allowed"),
    (HangupReason::Other, "other"),
];

/// Form error codes, as they appear in `invalid_form` errors.
fn field_errors() -> Vec<(FieldError, &'static str)> {
    vec![
        (FieldError::Required, r#"{"code":"required"}"#),
        (
            FieldError::TooLong { max: 4000 },
            r#"{"code":"too_long","max":4000}"#,
        ),
        (
            FieldError::ControlCharacters,
            r#"{"code":"control_characters"}"#,
        ),
        (FieldError::InvalidEmail, r#"{"code":"invalid_email"}"#),
        (
            FieldError::ConsentRequired,
            r#"{"code":"consent_required"}"#,
        ),
        (
            FieldError::ConsentOutdated {
                current: "2024-06".into(),
            },
            r#"{"code":"consent_outdated","current":"2024-06"}"#,
        ),
    ]
}

#[test]
fn form_error_codes() {
    for case in field_errors() {
        check(case, dec_serde::<FieldError>);
    }
    let unknown: FieldError = serde_json::from_str(r#"{"code":"profanity"}"#).expect("tolerant");
    assert_eq!(unknown, FieldError::Unknown);
}

// ---------------------------------------------------------------------------------------
// Decoding rules shared by every frame.

#[test]
fn limits_are_checked_before_parsing() {
    use interact_sdk::protocol::DecodeError;

    let pad = "x".repeat(limits::MAX_FRAME_BYTES);
    let big = format!(r#"{{"type":"ping","nonce":1,"pad":"{pad}"}}"#);
    assert!(matches!(
        decode_client(&big),
        Err(DecodeError::TooLarge(n)) if n == big.len()
    ));
    assert_eq!(
        decode_server(&big).map_err(|e| e.code()),
        Err(ErrorCode::FrameTooLarge)
    );
    // Exactly at the limit is fine.
    let filler = limits::MAX_FRAME_BYTES - r#"{"type":"ping","nonce":1,"pad":""}"#.len();
    let edge = format!(
        r#"{{"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(filler)
    );
    assert_eq!(edge.len(), limits::MAX_FRAME_BYTES);
    assert_eq!(decode_client(&edge), Ok(ClientFrame::Ping { nonce: 1 }));

    // Depth 8 passes, depth 9 does not (here even before the unknown type is seen).
    let nest = |n: usize| {
        format!(
            r#"{{"type":"ping","x":{}{}}}"#,
            "[".repeat(n - 1),
            "]".repeat(n - 1)
        )
    };
    assert_eq!(
        decode_client(&nest(limits::MAX_JSON_DEPTH)),
        Ok(ClientFrame::Ping { nonce: 0 })
    );
    assert_eq!(
        decode_client(&nest(limits::MAX_JSON_DEPTH + 1)).map_err(|e| e.code()),
        Err(ErrorCode::TooDeep)
    );
}

#[test]
fn malformed_frames_and_invalid_ids() {
    for text in [
        r#"{"type":"send","id":"m 1","text":"x"}"#,
        r#"{"type":"send","id":"","text":"x"}"#,
        r#"{"type":"accept","session":"<script>"}"#,
        r#"{"type":"receipt","up_to":-1,"state":"read"}"#,
        r#"{"type":"receipt","up_to":1,"state":"seen"}"#,
        r#"{"type":"set_presence","presence":"invisible"}"#,
        r#"{"type":"typing"}"#,
        r#"{"protocol":1}"#,
    ] {
        assert_eq!(
            decode_client(text).map_err(|e| e.code()),
            Err(ErrorCode::Malformed),
            "{text}"
        );
    }
    let long_id = format!(r#"{{"type":"send","id":"{}","text":"x"}}"#, "a".repeat(65));
    assert!(decode_client(&long_id).is_err());
    let max_id = format!(r#"{{"type":"send","id":"{}","text":"x"}}"#, "a".repeat(64));
    assert!(decode_client(&max_id).is_ok());
}

#[test]
fn unknown_fields_and_nulls_are_tolerated() {
    let f =
        decode_client(r#"{"type":"send","id":"m1","text":"hi","session":null,"priority":"high"}"#)
            .expect("tolerant");
    assert_eq!(
        f,
        ClientFrame::Send {
            session: None,
            id: mid("m1"),
            text: "hi".into(),
            after: None,
        }
    );
    let f = decode_server(r#"{"type":"welcome","protocol":1,"config":null,"motd":"hi"}"#)
        .expect("tolerant");
    assert!(matches!(f, ServerFrame::Welcome { config: None, .. }));
}

// ---------------------------------------------------------------------------------------
// docs/protocol.md against the code.

/// A fenced code block of the document with a role in its info string.
#[derive(Debug)]
struct Block {
    role: String,
    line: usize,
    text: String,
}

const ROLES: [&str; 5] = ["client", "server", "event", "signal", "config"];

/// Every fenced block whose info string is `json <role>`.
fn doc_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in DOC.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut open, fence) {
            (None, true) => {
                let mut info = line.trim_start()[3..].split_whitespace();
                let role = match (info.next(), info.next()) {
                    (Some("json"), Some(role)) => {
                        assert!(
                            ROLES.contains(&role),
                            "docs/protocol.md:{}: unknown role {role:?}",
                            i + 1
                        );
                        role.to_owned()
                    }
                    _ => String::new(),
                };
                open = Some(Block {
                    role,
                    line: i + 1,
                    text: String::new(),
                });
            }
            (Some(_), true) => {
                if let Some(b) = open.take().filter(|b| !b.role.is_empty()) {
                    blocks.push(b);
                }
            }
            (Some(b), false) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, false) => {}
        }
    }
    assert!(
        open.is_none(),
        "docs/protocol.md has an unclosed code block"
    );
    blocks
}

/// The tags a frame, event or signal shows, as `role:tag`, including nested ones (the event
/// in an `event` frame, the signal in a `call` frame or event).
fn tags_of(role: &str, value: &Value, out: &mut BTreeSet<String>) {
    match role {
        "client" | "server" => {
            let t = tag(value, "type").unwrap_or("<none>");
            out.insert(format!("{role}:{t}"));
            if let Some(event) = value.get("event") {
                tags_of("event", event, out);
            }
            if let Some(signal) = value.get("signal") {
                tags_of("signal", signal, out);
            }
        }
        "event" => {
            out.insert(format!("event:{}", tag(value, "kind").unwrap_or("<none>")));
            if let Some(signal) = value.get("signal") {
                tags_of("signal", signal, out);
            }
        }
        "signal" => {
            out.insert(format!("signal:{}", tag(value, "op").unwrap_or("<none>")));
        }
        _ => {}
    }
}

fn value_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialises")
}

/// Every tag the golden cases produce: adding a variant with a golden case but without an
/// example in the document fails `doc_shows_every_variant`.
fn expected_tags() -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    for (v, _) in client_cases() {
        tags_of("client", &value_of(&v), &mut tags);
    }
    for (v, _) in server_cases() {
        tags_of("server", &value_of(&v), &mut tags);
    }
    for (v, _) in event_cases() {
        tags_of("event", &value_of(&v), &mut tags);
    }
    for (v, _) in signal_cases() {
        tags_of("signal", &value_of(&v), &mut tags);
    }
    tags
}

fn assert_known_event(event: &SessionEvent, at: usize) {
    assert!(
        !matches!(event, SessionEvent::Unknown),
        "docs/protocol.md:{at}: unknown event kind"
    );
    if let SessionEvent::Call { signal, .. } = event {
        assert_known_signal(signal, at);
    }
}

fn assert_known_signal(signal: &CallSignal, at: usize) {
    assert!(
        !matches!(signal, CallSignal::Unknown),
        "docs/protocol.md:{at}: unknown call signal op"
    );
}

/// Decodes a block as its role's type, checks it is not unknown, and re-encodes it.
fn decode_block(b: &Block) -> Value {
    let at = b.line;
    let fail = |e: String| -> ! { panic!("docs/protocol.md:{at}: {} block: {e}", b.role) };
    match b.role.as_str() {
        "client" => {
            let f = decode_client(&b.text).unwrap_or_else(|e| fail(e.to_string()));
            assert!(
                !matches!(f, ClientFrame::Unknown),
                "docs/protocol.md:{at}: unknown frame type"
            );
            if let ClientFrame::Call { signal, .. } = &f {
                assert_known_signal(signal, at);
            }
            value_of(&f)
        }
        "server" => {
            let f = decode_server(&b.text).unwrap_or_else(|e| fail(e.to_string()));
            assert!(
                !matches!(f, ServerFrame::Unknown),
                "docs/protocol.md:{at}: unknown frame type"
            );
            if let ServerFrame::Event(ev) = &f {
                assert_known_event(&ev.event, at);
            }
            value_of(&f)
        }
        "event" => {
            let e: SessionEvent = dec_serde(&b.text).unwrap_or_else(|e| fail(e));
            assert_known_event(&e, at);
            value_of(&e)
        }
        "signal" => {
            let s: CallSignal = dec_serde(&b.text).unwrap_or_else(|e| fail(e));
            assert_known_signal(&s, at);
            value_of(&s)
        }
        "config" => {
            let c: WidgetConfig = dec_serde(&b.text).unwrap_or_else(|e| fail(e));
            value_of(&c)
        }
        other => unreachable!("role {other} was checked when parsing"),
    }
}

#[test]
fn doc_examples_decode_and_round_trip() {
    let blocks = doc_blocks();
    assert!(
        blocks.len() >= 40,
        "expected the document's examples, found {} blocks",
        blocks.len()
    );
    for b in &blocks {
        let original = json(&b.text);
        let reencoded = decode_block(b);
        assert_eq!(
            reencoded, original,
            "docs/protocol.md:{}: the {} example does not re-encode to itself \
             (the document shows fields the code does not send, or leaves out ones it does)",
            b.line, b.role
        );
    }
}

#[test]
fn doc_shows_every_variant() {
    let mut seen = BTreeSet::new();
    let mut roles = BTreeSet::new();
    for b in doc_blocks() {
        tags_of(&b.role, &json(&b.text), &mut seen);
        roles.insert(b.role);
    }
    let expected = expected_tags();
    let missing: Vec<&String> = expected.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md has no example for {missing:?}"
    );
    // The golden cases cover every variant the document shows, too.
    let extra: Vec<&String> = seen.difference(&expected).collect();
    assert!(extra.is_empty(), "no golden case for {extra:?}");
    for role in ROLES {
        assert!(roles.contains(role), "no `json {role}` example");
    }
    // One example per variant at least: 18 client frames, 14 server frames, 11 event
    // kinds, 9 call signal ops.
    let count = |prefix: &str| expected.iter().filter(|t| t.starts_with(prefix)).count();
    assert_eq!(
        (
            count("client:"),
            count("server:"),
            count("event:"),
            count("signal:")
        ),
        (18, 14, 11, 9)
    );
}

#[test]
fn doc_names_every_error_and_close_code() {
    for (_, wire) in ERROR_CODES {
        assert!(
            DOC.contains(&format!("| `{wire}` |")),
            "docs/protocol.md has no table row for error code `{wire}`"
        );
    }
    for (code, number, reconnect) in CLOSE_CODES {
        let row = DOC
            .lines()
            .find(|l| l.starts_with(&format!("| {number} |")))
            .unwrap_or_else(|| panic!("docs/protocol.md has no table row for close code {number}"));
        let expected = if reconnect { "| yes |" } else { "| no |" };
        assert!(
            row.ends_with(expected),
            "docs/protocol.md: close code {number} ({code:?}) must say `{expected}`: {row}"
        );
    }
    for (_, wire) in END_REASONS {
        assert!(DOC.contains(&format!("| `{wire}` |")), "end reason {wire}");
    }
    for (_, wire) in HANGUP_REASONS {
        assert!(
            DOC.contains(&format!("| `{wire}` |")),
            "hangup reason {wire}"
        );
    }
    for (_, golden) in field_errors() {
        let code = tag(&json(golden), "code").expect("code").to_owned();
        assert!(DOC.contains(&format!("`{code}`")), "form error code {code}");
    }
}

#[test]
fn doc_lists_every_limit() {
    let secs = |d: std::time::Duration| {
        if d.subsec_millis() == 0 {
            format!("{} s", d.as_secs())
        } else {
            format!("{} ms", d.as_millis())
        }
    };
    let limits = [
        ("MAX_FRAME_BYTES", limits::MAX_FRAME_BYTES.to_string()),
        ("MAX_JSON_DEPTH", limits::MAX_JSON_DEPTH.to_string()),
        ("MAX_TEXT_CHARS", limits::MAX_TEXT_CHARS.to_string()),
        (
            "MAX_DISPLAY_NAME_CHARS",
            limits::MAX_DISPLAY_NAME_CHARS.to_string(),
        ),
        ("MAX_EMAIL_BYTES", limits::MAX_EMAIL_BYTES.to_string()),
        (
            "MAX_EMAIL_LOCAL_BYTES",
            limits::MAX_EMAIL_LOCAL_BYTES.to_string(),
        ),
        ("MAX_ATTRIBUTES", limits::MAX_ATTRIBUTES.to_string()),
        (
            "MAX_ATTRIBUTE_KEY_CHARS",
            limits::MAX_ATTRIBUTE_KEY_CHARS.to_string(),
        ),
        (
            "MAX_ATTRIBUTE_VALUE_CHARS",
            limits::MAX_ATTRIBUTE_VALUE_CHARS.to_string(),
        ),
        ("MAX_PAGE_URL_CHARS", limits::MAX_PAGE_URL_CHARS.to_string()),
        ("MAX_SDP_BYTES", limits::MAX_SDP_BYTES.to_string()),
        (
            "MAX_CANDIDATE_BYTES",
            limits::MAX_CANDIDATE_BYTES.to_string(),
        ),
        ("MAX_ID_LEN", interact_sdk::ids::MAX_ID_LEN.to_string()),
        (
            "MAX_QUALITY_SAMPLES",
            limits::MAX_QUALITY_SAMPLES.to_string(),
        ),
        (
            "MAX_QUALITY_DELAY_MS",
            limits::MAX_QUALITY_DELAY_MS.to_string(),
        ),
        (
            "MAX_QUALITY_BITRATE_KBPS",
            limits::MAX_QUALITY_BITRATE_KBPS.to_string(),
        ),
        (
            "MAX_QUALITY_FRAME_PX",
            limits::MAX_QUALITY_FRAME_PX.to_string(),
        ),
        ("QUALITY_INTERVAL", secs(limits::QUALITY_INTERVAL)),
        ("QUALITY_LATE", secs(limits::QUALITY_LATE)),
        ("REPLAY_PAGE_EVENTS", limits::REPLAY_PAGE_EVENTS.to_string()),
        ("REPLAY_PAGE_BYTES", limits::REPLAY_PAGE_BYTES.to_string()),
        ("PING_INTERVAL", secs(limits::PING_INTERVAL)),
        ("IDLE_TIMEOUT", secs(limits::IDLE_TIMEOUT)),
        ("HANDSHAKE_TIMEOUT", secs(limits::HANDSHAKE_TIMEOUT)),
        ("ACK_TIMEOUT", secs(limits::ACK_TIMEOUT)),
        ("GAP_TIMEOUT", secs(limits::GAP_TIMEOUT)),
        ("TYPING_TTL", secs(limits::TYPING_TTL)),
        ("TYPING_REFRESH", secs(limits::TYPING_REFRESH)),
        ("RECONNECT_MIN", secs(limits::RECONNECT_MIN)),
        ("RECONNECT_MAX", secs(limits::RECONNECT_MAX)),
    ];
    for (name, value) in limits {
        let row = DOC
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}`")))
            .unwrap_or_else(|| panic!("docs/protocol.md has no limits row for {name}"));
        let cell = row.split('|').nth(2).unwrap_or_default().trim();
        assert!(
            cell.starts_with(&value),
            "docs/protocol.md: {name} is {value}, the document says {cell:?}"
        );
    }
    assert!(DOC.contains(&format!("version is the integer `{PROTOCOL_VERSION}`")));
}

#[test]
fn doc_embed_codes_are_valid() {
    let mut found = 0;
    for (start, _) in DOC.match_indices("ie1_") {
        let code: String = DOC[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if code.len() == "ie1_".len() {
            continue; // the prefix itself, named in the text
        }
        let parsed: EmbedCode = code
            .parse()
            .unwrap_or_else(|e| panic!("docs/protocol.md: {code} is not an embed code: {e}"));
        assert_eq!(parsed.as_str(), code);
        found += 1;
    }
    assert!(found > 0, "docs/protocol.md shows no embed code");
    // The example code is one `EmbedCode::from_random` can produce.
    let code: EmbedCode = "ie1_kq32m72dk73qhg4ujobmmzrok4".parse().expect("valid");
    assert_eq!(EmbedCode::from_random(code.to_bytes()), code);
}
