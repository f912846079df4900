//! Email out (`[smtp]`): a bounded outbox in memory and one task that hands its mails to
//! the SMTP server (lettre on tokio, TLS by rustls), retrying a transient failure a few
//! times and logging what fails for good.
//!
//! Queueing never waits: [`Mailer::queue`] takes a mail or refuses it at once (the outbox
//! is full, or the configured rate is spent), so no WebSocket or HTTP request ever waits
//! for a mail server. A mail is plain text only: bodies are built from what visitors and
//! agents typed, which must never become markup. What is queued is lost if the process
//! stops before it went out (transcripts are a convenience; a feature that needs a mail
//! delivered at least once should store it first, as webhooks do).
//!
//! Used for transcripts after a chat (`ws::after`); offline messages answered by email
//! can queue theirs the same way.

use std::sync::Mutex;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;

use crate::config::{SmtpSection, SmtpTls};
use crate::node::hub::Bucket;
use crate::node::state::AppState;

/// Mails waiting for the SMTP server at most; more are refused.
pub const OUTBOX: usize = 256;
/// How often a mail is tried when the server answers with a transient failure (4xx) or
/// cannot be reached.
const ATTEMPTS: u32 = 3;
/// The wait before the second attempt; doubled for each one after.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// One plain-text mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address (already validated, e.g. by the pre-chat form's rules).
    pub to: String,
    /// The recipient's name, shown beside the address.
    pub to_name: Option<String>,
    /// The subject line.
    pub subject: String,
    /// The body, plain text.
    pub body: String,
}

/// Why a mail was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The outbox is full or the rate is spent: try later.
    #[error("too many emails; try again later")]
    Busy,
    /// The recipient's address or name cannot be put in a mail.
    #[error("invalid recipient: {0}")]
    Recipient(String),
}

/// The outbox; [`run`] sends what it holds.
#[derive(Debug)]
pub struct Mailer {
    from: Mailbox,
    tx: mpsc::Sender<Message>,
    rx: Mutex<Option<mpsc::Receiver<Message>>>,
    rate: Mutex<Bucket>,
    section: SmtpSection,
}

impl Mailer {
    /// The mailer of a validated `[smtp]` section.
    pub fn new(section: &SmtpSection, now: std::time::Instant) -> Result<Self, String> {
        let from = section
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("smtp.from: {e}"))?;
        let (tx, rx) = mpsc::channel(OUTBOX);
        // The bucket counts per second and holds two seconds' worth; a rate per minute
        // below 60 is rounded up to one a second, with the burst of the bucket.
        let per_second = section.per_minute.div_ceil(60);
        Ok(Self {
            from,
            tx,
            rx: Mutex::new(Some(rx)),
            rate: Mutex::new(Bucket::new(per_second, now)),
            section: section.clone(),
        })
    }

    /// Queues `mail` without waiting; refuses it if the outbox is full or the rate spent.
    pub fn queue(&self, mail: Mail, now: std::time::Instant) -> Result<(), MailError> {
        let message = self.prepare(mail)?;
        self.reserve(now)?.send(message);
        Ok(())
    }

    /// The mail as it will go out (from the configured sender, plain text).
    pub fn prepare(&self, mail: Mail) -> Result<Message, MailError> {
        let to = Mailbox::new(
            mail.to_name.clone(),
            mail.to
                .parse()
                .map_err(|e| MailError::Recipient(format!("{e}")))?,
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Recipient(e.to_string()))
    }

    /// A place in the outbox and a share of the rate, for a mail sent with it later (or
    /// not: dropping the permit gives the place back). Lets a caller record that a mail
    /// goes out only once it is sure that it can.
    pub fn reserve(&self, now: std::time::Instant) -> Result<mpsc::Permit<'_, Message>, MailError> {
        let permit = self.tx.try_reserve().map_err(|_| MailError::Busy)?;
        if !self
            .rate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(now)
        {
            return Err(MailError::Busy);
        }
        Ok(permit)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let s = &self.section;
        let builder = match s.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| e.to_string())?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
            }
        };
        let mut builder = builder.port(s.port()).timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &s.user {
            let password = s.password()?.map(|p| p.expose().to_owned());
            builder =
                builder.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
        }
        Ok(builder.build())
    }
}

/// Sends what the outbox receives, one mail at a time, until the server stops. Runs only
/// where `[smtp]` is configured.
pub async fn run(state: AppState) {
    let Some(mailer) = state.mailer.as_ref() else {
        return;
    };
    let Some(mut rx) = mailer.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let transport = match mailer.transport() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "smtp: no transport; emails are dropped");
            while rx.recv().await.is_some() {}
            return;
        }
    };
    while let Some(message) = rx.recv().await {
        let mut wait = RETRY_AFTER;
        for attempt in 1..=ATTEMPTS {
            match transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::debug!("smtp: a mail went out");
                    break;
                }
                Err(e) if !e.is_permanent() && attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "smtp: sending failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, "smtp: a mail was not sent");
                    break;
                }
            }
        }
    }
}
