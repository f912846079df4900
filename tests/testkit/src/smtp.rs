//! A tiny SMTP server that keeps what it receives: the mail server of the tests.
//!
//! It listens on `127.0.0.1` on a port the OS picks, speaks enough of RFC 5321 for a
//! client that sends plain text without TLS or authentication (`EHLO`/`HELO`,
//! `MAIL FROM`, `RCPT TO`, `DATA` with dot-unstuffing, `RSET`, `NOOP`, `QUIT`), and
//! records every accepted message ([`SmtpSink::messages`], [`SmtpSink::wait_for`]).
//! Point the server's `[smtp]` at it with [`SmtpSink::config`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Longest line the sink reads (RFC 5321 allows 1000 with the CRLF; a little slack).
const MAX_LINE: usize = 4096;
/// Largest message the sink takes.
const MAX_MESSAGE: usize = 1024 * 1024;

/// One message as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`), without the angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent (headers and body, CRLF line ends, dot-unstuffed).
    pub data: String,
}

impl Received {
    /// The body: what follows the first empty line, with quoted-printable soft line
    /// breaks and `=XX` escapes undone (lettre encodes long or non-ASCII text that way)
    /// if the headers say so.
    pub fn body(&self) -> String {
        let (head, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            quoted_printable(body)
        } else if head
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: base64")
        {
            use base64::Engine as _;
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default()
        } else {
            body.to_owned()
        }
    }

    /// The value of header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The SMTP sink; it stops when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink on a port the OS picks.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("the sink's address");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (m, a) = (messages.clone(), arrived.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (m, a) = (m.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = session(stream, &m, &a).await;
                });
            }
        });
        Self {
            addr,
            messages,
            arrived,
            task,
        }
    }

    /// The server's `[smtp]` section for this sink: no TLS, no authentication.
    pub fn config(&self, from: &str) -> interact_server::config::SmtpSection {
        let text = format!(
            "host = \"127.0.0.1\"\nport = {}\nfrom = {from:?}\ntls = \"none\"\n",
            self.addr.port()
        );
        toml::from_str(&text).expect("an [smtp] section")
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `n` messages have arrived (panics after `within`), and returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "the SMTP sink has {} message(s), not {n}, after {within:?}",
                    self.messages().len()
                );
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: TcpStream,
    messages: &Mutex<Vec<Received>>,
    arrived: &Notify,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 || line.len() > MAX_LINE {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = Some(address(&cmd["MAIL FROM:".len()..]));
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                b"503 MAIL first\r\n"
            } else {
                to.push(address(&cmd["RCPT TO:".len()..]));
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                write.write_all(b"503 RCPT first\r\n").await?;
                continue;
            }
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if read.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
                if data.len() > MAX_MESSAGE {
                    write.write_all(b"552 Too large\r\n").await?;
                    return Ok(());
                }
            }
            messages
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
            arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper == "RSET" {
            from = None;
            to.clear();
            b"250 OK\r\n"
        } else if upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// The address in `<...>` of a `MAIL FROM:`/`RCPT TO:` argument (parameters after it
/// ignored).
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}
