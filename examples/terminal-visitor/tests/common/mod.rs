//! Test harness: the real server of `interact_e2e::stack` (the demo configuration, a
//! fresh SQLite file, port 0), and the terminal client driven through in-memory pipes.
//! The agent is `interact_e2e::agent::AgentClient`.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use interact_e2e::stack::Stack;
use interact_terminal_visitor::{Driver, Error, Options, Outcome, visitor_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::JoinHandle;

/// Upper bound for anything the tests wait for; never a way to let time pass.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The terminal client running on in-memory pipes: the test types lines and reads what
/// it prints.
pub struct Terminal {
    keyboard: DuplexStream,
    screen: DuplexStream,
    /// Everything printed so far.
    printed: Vec<u8>,
    /// Where the next [`Terminal::expect`] starts looking.
    cursor: usize,
    task: JoinHandle<Result<Outcome, Error>>,
}

impl Terminal {
    /// Starts the client against the stack's server, for its embed code, with the origin
    /// of its allowed host page.
    pub fn start(stack: &Stack, seed: u64) -> Self {
        let options = Options {
            url: visitor_url(&stack.server_url, stack.code.as_str()).expect("url"),
            origin: stack.host_url.clone(),
            seed,
        };
        let (keyboard, input) = tokio::io::duplex(4096);
        let (output, screen) = tokio::io::duplex(64 * 1024);
        let driver = Driver::new(options, BufReader::new(input), output);
        Self {
            keyboard,
            screen,
            printed: Vec::new(),
            cursor: 0,
            task: tokio::spawn(driver.run()),
        }
    }

    /// Types a line and presses Enter.
    pub async fn type_line(&mut self, line: &str) {
        self.keyboard
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("type");
    }

    /// Waits until `text` is printed after what earlier calls matched; panics with the
    /// transcript after [`LIMIT`].
    pub async fn expect(&mut self, text: &str) {
        let found = tokio::time::timeout(LIMIT, async {
            loop {
                // `cursor` is just after an earlier match, so on a character boundary.
                let unread = String::from_utf8_lossy(&self.printed[self.cursor..]);
                if let Some(at) = unread.find(text) {
                    self.cursor += at + text.len();
                    return;
                }
                let mut buf = [0u8; 4096];
                let n = self.screen.read(&mut buf).await.expect("read screen");
                assert!(n > 0, "the client stopped printing");
                self.printed.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        if found.is_err() {
            panic!(
                "{text:?} not printed within {LIMIT:?}; transcript:\n{}",
                String::from_utf8_lossy(&self.printed)
            );
        }
    }

    /// Waits for the client to stop; returns how, and reads the rest of its output.
    pub async fn finish(mut self) -> (Result<Outcome, Error>, String) {
        let result = tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("the client stops in time")
            .expect("the client does not panic");
        self.screen
            .read_to_end(&mut self.printed)
            .await
            .expect("the rest of the output");
        let transcript = String::from_utf8(self.printed).expect("utf-8 output");
        (result, transcript)
    }
}
