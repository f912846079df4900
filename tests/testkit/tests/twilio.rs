//! The stand-in Twilio behaves as Twilio's documentation says: the Messages resource
//! (authentication, fields, answers, faults) and the webhooks it signs.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use interact_testkit::twilio::{
    InboundMessage, StandInTwilio, StatusUpdate, Webhook, http, send_inbound, send_status,
};
use interact_twilio::inbound::{EMPTY_TWIML, Inbound};
use interact_twilio::outbound::{
    self, Credentials, Disposition, MessageRequest, find_sent, parse_page, read_answer,
};
use interact_twilio::status::{Delivery, StatusCallback};
use interact_twilio::{WhatsAppAddress, form, signature};
use tokio::net::TcpListener;

const SENDER: &str = "whatsapp:+12025550123";
const CUSTOMER: &str = "whatsapp:+447700900123";

/// A request a receiver got: path and query, headers, form.
type Got = (String, HeaderMap, Vec<(String, String)>);

/// A webhook receiver standing where the connector would: records what arrives, answers
/// `200` with empty TwiML.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Got>>>);

impl Received {
    fn all(&self) -> Vec<Got> {
        self.0.lock().expect("lock").clone()
    }
}

async fn receiver() -> (String, Received) {
    async fn record(
        State(received): State<Received>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> ([(&'static str, &'static str); 1], &'static str) {
        received
            .0
            .lock()
            .expect("lock")
            .push((uri.to_string(), headers, form::parse(&body)));
        ([("content-type", "text/xml")], EMPTY_TWIML)
    }
    let received = Received::default();
    let app = Router::new().fallback(record).with_state(received.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn request(body: &str, status_callback: Option<String>) -> MessageRequest {
    MessageRequest::new(
        WhatsAppAddress::parse(SENDER).expect("sender"),
        WhatsAppAddress::parse(CUSTOMER).expect("customer"),
        body,
        status_callback,
    )
    .expect("a valid request")
}

/// `POST`s `request` to the stand-in as a connector would.
async fn post(
    twilio: &StandInTwilio,
    credentials: &Credentials,
    body: &str,
) -> interact_testkit::twilio::HttpAnswer {
    http(
        "POST",
        &twilio.messages_url(),
        &[
            ("Authorization", credentials.authorization()),
            ("Content-Type", form::CONTENT_TYPE.to_owned()),
        ],
        body,
    )
    .await
    .expect("the stand-in answers")
}

fn error_code(body: &str) -> Option<u32> {
    outbound::parse_error(body.as_bytes()).and_then(|e| e.code)
}

#[tokio::test]
async fn a_message_is_created_and_recorded_as_documented() {
    let twilio = StandInTwilio::start().await;
    let req = request(
        "Hello <b>there</b> & welcome",
        Some("http://127.0.0.1:9/cb?m=1".into()),
    );
    let answer = post(&twilio, &twilio.credentials(), &req.form_body()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let message = read_answer(answer.status, None, answer.body.as_bytes()).expect("created");
    assert!(
        interact_twilio::is_sid(&message.sid, "SM"),
        "{}",
        message.sid
    );
    assert_eq!(message.status, "queued");
    assert_eq!(message.from.as_deref(), Some(SENDER));
    assert_eq!(message.to.as_deref(), Some(CUSTOMER));
    assert_eq!(
        message.body.as_deref(),
        Some("Hello <b>there</b> & welcome")
    );
    assert_eq!(
        message.account_sid.as_deref(),
        Some(twilio.account_sid.as_str())
    );
    assert_eq!(message.direction.as_deref(), Some("outbound-api"));
    let json: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
    for field in [
        "date_created",
        "date_updated",
        "num_segments",
        "num_media",
        "price",
        "uri",
        "api_version",
        "error_code",
        "subresource_uris",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(
        json["uri"],
        format!(
            "/2010-04-01/Accounts/{}/Messages/{}.json",
            twilio.account_sid, message.sid
        )
    );
    assert!(
        json["date_created"]
            .as_str()
            .is_some_and(|d| d.ends_with(" +0000"))
    );

    let recorded = twilio.wait_for_created(1).await;
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!((r.method.as_str(), r.status), ("POST", 201));
    assert_eq!(r.sid.as_deref(), Some(message.sid.as_str()));
    assert_eq!(r.form, req.params());
    assert_eq!(
        r.form_value("StatusCallback"),
        Some("http://127.0.0.1:9/cb?m=1")
    );
    assert_eq!(
        r.header("authorization"),
        Some(twilio.credentials().authorization().as_str())
    );

    // The message can be fetched and listed.
    let fetched = http(
        "GET",
        &format!(
            "{}/2010-04-01/Accounts/{}/Messages/{}.json",
            twilio.url(),
            twilio.account_sid,
            message.sid
        ),
        &[("Authorization", twilio.credentials().authorization())],
        "",
    )
    .await
    .expect("answer");
    assert_eq!(fetched.status, 200);
    let list = http(
        "GET",
        &outbound::list_url(&twilio.url(), &twilio.account_sid, &req),
        &[("Authorization", twilio.credentials().authorization())],
        "",
    )
    .await
    .expect("answer");
    assert_eq!(list.status, 200, "{}", list.body);
    let page = parse_page(list.body.as_bytes()).expect("page");
    assert_eq!(
        find_sent(&page, &req, &[]).map(|m| m.sid.clone()),
        Some(message.sid)
    );
    twilio.stop().await;
}

#[tokio::test]
async fn bad_credentials_are_refused_with_20003() {
    let twilio = StandInTwilio::start().await;
    let body = request("hi", None).form_body();
    let wrong = Credentials::AuthToken {
        account_sid: twilio.account_sid.clone(),
        auth_token: "wrong".into(),
    };
    let answer = post(&twilio, &wrong, &body).await;
    assert_eq!(answer.status, 401);
    assert_eq!(error_code(&answer.body), Some(20003));
    assert!(answer.header("www-authenticate").is_some());
    assert!(matches!(
        outbound::classify(answer.status, None, answer.body.as_bytes()),
        Disposition::Fail {
            code: Some(20003),
            ..
        }
    ));
    let none = http(
        "POST",
        &twilio.messages_url(),
        &[("Content-Type", form::CONTENT_TYPE.to_owned())],
        &body,
    )
    .await
    .expect("answer");
    assert_eq!((none.status, error_code(&none.body)), (401, Some(20003)));

    // An API key of the account is accepted; the account in the path must be its own.
    let (key_sid, secret) = twilio.add_api_key();
    let key = Credentials::ApiKey {
        account_sid: twilio.account_sid.clone(),
        key_sid,
        secret,
    };
    assert_eq!(post(&twilio, &key, &body).await.status, 201);
    let elsewhere = http(
        "POST",
        &outbound::messages_url(&twilio.url(), "AC00000000000000000000000000000000"),
        &[
            ("Authorization", twilio.credentials().authorization()),
            ("Content-Type", form::CONTENT_TYPE.to_owned()),
        ],
        &body,
    )
    .await
    .expect("answer");
    assert_eq!(
        (elsewhere.status, error_code(&elsewhere.body)),
        (404, Some(20404))
    );
    assert_eq!(twilio.created().len(), 1);
    assert_eq!(twilio.requests().len(), 4, "every request is recorded");
    twilio.stop().await;
}

#[tokio::test]
async fn missing_and_invalid_fields_get_twilios_errors() {
    let twilio = StandInTwilio::start().await;
    let creds = twilio.credentials();
    let long = "a".repeat(1601);
    let cases: [(&[(&str, &str)], u32); 6] = [
        (&[("From", SENDER), ("Body", "hi")], 21604),
        (&[("To", CUSTOMER), ("Body", "hi")], 21603),
        (&[("To", CUSTOMER), ("From", SENDER)], 21602),
        (&[("To", CUSTOMER), ("From", SENDER), ("Body", "")], 21602),
        (
            &[("To", CUSTOMER), ("From", SENDER), ("Body", &long)],
            21617,
        ),
        (
            &[("To", "whatsapp:12345"), ("From", SENDER), ("Body", "hi")],
            21211,
        ),
    ];
    for (fields, code) in cases {
        let answer = post(&twilio, &creds, &form::encode(fields)).await;
        assert_eq!(answer.status, 400, "{fields:?}");
        let error = outbound::parse_error(answer.body.as_bytes()).expect("Twilio's error JSON");
        assert_eq!(error.code, Some(code), "{fields:?}");
        assert_eq!(error.status, Some(400));
        assert_eq!(
            error.more_info.as_deref(),
            Some(format!("https://www.twilio.com/docs/errors/{code}").as_str())
        );
        assert!(!error.message.is_empty());
    }
    twilio.refuse_to("+447700900123");
    let refused = post(&twilio, &creds, &request("hi", None).form_body()).await;
    assert_eq!(
        (refused.status, error_code(&refused.body)),
        (400, Some(21211))
    );
    assert!(matches!(
        outbound::classify(refused.status, None, refused.body.as_bytes()),
        Disposition::Fail {
            code: Some(21211),
            ..
        }
    ));
    assert!(twilio.created().is_empty());
    twilio.stop().await;
}

#[tokio::test]
async fn an_outage_fails_then_recovers() {
    let twilio = StandInTwilio::start().await;
    let creds = twilio.credentials();
    let req = request("Are you there?", None);

    twilio.fail_next(2, 503);
    for _ in 0..2 {
        let answer = post(&twilio, &creds, &req.form_body()).await;
        assert_eq!(
            (answer.status, error_code(&answer.body)),
            (503, Some(20503))
        );
        let disposition = outbound::read_answer(answer.status, None, answer.body.as_bytes())
            .expect_err("not created");
        assert_eq!(disposition, Disposition::Reconcile { after: None });
    }
    // Nothing was created: a reconciling connector finds nothing and sends again.
    let list = http(
        "GET",
        &outbound::list_url(&twilio.url(), &twilio.account_sid, &req),
        &[("Authorization", creds.authorization())],
        "",
    )
    .await
    .expect("answer");
    let page = parse_page(list.body.as_bytes()).expect("page");
    assert_eq!(find_sent(&page, &req, &[]), None);
    let answer = post(&twilio, &creds, &req.form_body()).await;
    assert_eq!(answer.status, 201);

    twilio.fail_next(1, 429);
    let busy = post(&twilio, &creds, &req.form_body()).await;
    assert_eq!((busy.status, error_code(&busy.body)), (429, Some(20429)));
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(
        outbound::classify(
            busy.status,
            busy.header("retry-after"),
            busy.body.as_bytes()
        ),
        Disposition::Retry {
            after: Some(std::time::Duration::from_secs(1))
        }
    );
    assert_eq!(post(&twilio, &creds, &req.form_body()).await.status, 201);

    let statuses: Vec<u16> = twilio
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 201, 429, 201]);
    assert_eq!(twilio.created().len(), 2);
    twilio.stop().await;
}

#[tokio::test]
async fn the_idempotency_header_is_not_a_documented_dedup_key() {
    // Twilio documents no idempotency key for creating messages: two POSTs are two
    // messages, whatever header they carry.
    let twilio = StandInTwilio::start().await;
    let body = request("once?", None).form_body();
    for _ in 0..2 {
        let answer = http(
            "POST",
            &twilio.messages_url(),
            &[
                ("Authorization", twilio.credentials().authorization()),
                ("Content-Type", form::CONTENT_TYPE.to_owned()),
                ("I-Twilio-Idempotency-Token", "same-token".to_owned()),
            ],
            &body,
        )
        .await
        .expect("answer");
        assert_eq!(answer.status, 201);
    }
    let created = twilio.created();
    assert_eq!(created.len(), 2);
    assert_ne!(created[0].sid, created[1].sid);
    assert_eq!(
        created[1].header("i-twilio-idempotency-token"),
        Some("same-token")
    );
    twilio.stop().await;
}

#[tokio::test]
async fn webhooks_are_signed_as_twilio_signs_them() {
    let twilio = StandInTwilio::start().await;
    let (base, received) = receiver().await;
    let url = format!("{base}/twilio/whatsapp/support?tenant=demo");
    let message = twilio.inbound("+447700900123", "+12025550123", "Hello, I need help");

    assert_eq!(twilio.send_inbound(&url, &message).await, 200);
    // A replay: the same webhook again (Twilio's retry, or someone else's).
    let hook = Webhook::signed(&url, &twilio.auth_token, message.params());
    assert_eq!(hook.send().await, 200);
    assert_eq!(hook.send().await, 200);
    // A forgery, and nothing at all.
    assert_eq!(hook.clone().forged().send().await, 200);
    assert_eq!(hook.clone().unsigned().send().await, 200);

    let got = received.all();
    assert_eq!(got.len(), 5);
    for (i, (path, headers, params)) in got.iter().enumerate() {
        assert_eq!(path, "/twilio/whatsapp/support?tenant=demo");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some(form::CONTENT_TYPE)
        );
        let sig = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
        let valid = sig.is_some_and(|s| signature::verify(&twilio.auth_token, &url, params, s));
        assert_eq!(valid, i < 3, "webhook {i}: {sig:?}");
        let read = Inbound::from_form(params).expect("the documented parameters");
        assert_eq!(read.message_sid, message.message_sid);
        assert_eq!(read.account_sid, twilio.account_sid);
        assert_eq!(read.from.to_string(), CUSTOMER);
        assert_eq!(read.to.to_string(), SENDER);
        assert_eq!(read.body, "Hello, I need help");
        assert_eq!(read.wa_id.as_deref(), Some("447700900123"));
        assert!(read.profile_name.is_some() && read.is_text());
        assert!(headers.get("i-twilio-idempotency-token").is_some());
    }
    // The replays are the same request: same signature, same idempotency token.
    assert_eq!(
        got[1].1.get(signature::HEADER),
        got[2].1.get(signature::HEADER)
    );
    assert_eq!(
        got[1].1.get("i-twilio-idempotency-token"),
        got[2].1.get("i-twilio-idempotency-token")
    );
    assert!(got[4].1.get(signature::HEADER).is_none());

    // Media, and the free helper with any token.
    let photo = InboundMessage::text(&twilio.account_sid, "+447700900123", SENDER, "")
        .with_media("image/jpeg");
    assert_eq!(send_inbound(&url, &twilio.auth_token, &photo).await, 200);
    let (_, _, params) = received.all().pop().expect("the photo");
    assert!(Inbound::from_form(&params).expect("readable").has_media());
    twilio.stop().await;
}

#[tokio::test]
async fn status_callbacks_follow_an_accepted_message() {
    let twilio = StandInTwilio::start().await;
    let (base, received) = receiver().await;
    twilio.status_callbacks(&["sent", "delivered", "read"]);
    let callback = format!("{base}/twilio/status?m=42");
    let answer = post(
        &twilio,
        &twilio.credentials(),
        &request("Your order shipped", Some(callback.clone())).form_body(),
    )
    .await;
    let sid = read_answer(answer.status, None, answer.body.as_bytes())
        .expect("created")
        .sid;

    let posted = twilio.wait_for_callbacks(3).await;
    assert_eq!(
        posted.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(),
        ["sent", "delivered", "read"]
    );
    assert!(
        posted
            .iter()
            .all(|c| c.answer == Some(200) && c.message_sid == sid)
    );
    let got = received.all();
    assert_eq!(got.len(), 3);
    let mut seen = None;
    for (path, headers, params) in &got {
        assert_eq!(path, "/twilio/status?m=42");
        let sig = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .expect("signed");
        assert!(signature::verify(
            &twilio.auth_token,
            &callback,
            params,
            sig
        ));
        let cb = StatusCallback::from_form(params).expect("documented parameters");
        assert_eq!(cb.message_sid, sid);
        assert_eq!(cb.from.as_deref(), Some(SENDER));
        assert_eq!(cb.to.as_deref(), Some(CUSTOMER));
        let d = cb.delivery().expect("a state agents see");
        assert!(Delivery::advances(seen, d));
        seen = Some(d);
    }
    assert_eq!(seen, Some(Delivery::Read));

    // The message now reads as read; a callback sent by hand is signed the same way.
    let fetched = http(
        "GET",
        &format!(
            "{}/2010-04-01/Accounts/{}/Messages/{sid}.json",
            twilio.url(),
            twilio.account_sid
        ),
        &[("Authorization", twilio.credentials().authorization())],
        "",
    )
    .await
    .expect("answer");
    assert!(
        fetched.body.contains("\"status\":\"read\""),
        "{}",
        fetched.body
    );
    assert_eq!(twilio.send_status(&callback, &sid, "read").await, 200);
    let update = StatusUpdate::new(&twilio.account_sid, &sid, "delivered");
    assert_eq!(
        send_status(&callback, &twilio.auth_token, &update).await,
        200
    );
    let got = received.all();
    for (_, headers, params) in &got[3..] {
        let sig = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .expect("signed");
        assert!(signature::verify(
            &twilio.auth_token,
            &callback,
            params,
            sig
        ));
    }
    twilio.stop().await;
}

#[tokio::test]
async fn an_undeliverable_message_gets_a_failed_callback_with_its_code() {
    let twilio = StandInTwilio::start().await;
    let (base, received) = receiver().await;
    twilio.status_callbacks(&["sent", "delivered"]);
    twilio.fail_delivery_to("+447700900123", 63016);
    let callback = format!("{base}/cb");
    let answer = post(
        &twilio,
        &twilio.credentials(),
        &request("Late reply", Some(callback)).form_body(),
    )
    .await;
    assert_eq!(answer.status, 201, "Twilio accepts it first");
    let posted = twilio.wait_for_callbacks(1).await;
    assert_eq!(posted[0].status, "failed");
    assert_eq!(posted[0].error_code, Some(63016));
    let (_, _, params) = received.all().pop().expect("a callback");
    let cb = StatusCallback::from_form(&params).expect("readable");
    assert_eq!(
        (cb.delivery(), cb.error_code),
        (Some(Delivery::Failed), Some(63016))
    );
    assert!(interact_twilio::errors::describe(63016).is_some_and(|d| d.contains("24 hours")));
    twilio.stop().await;
}
