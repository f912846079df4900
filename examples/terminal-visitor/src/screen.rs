//! What the visitor sees: lines of plain text on a writer, prompts that survive output
//! arriving while the visitor types, and text from the server made safe for a terminal.

use interact_sdk::form::is_forbidden_char;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Makes text from the server (messages, names, error messages) safe to print: every
/// control character and Unicode text-direction override is shown escaped, as `\u{1b}`,
/// so a hostile agent name or message cannot move the cursor, recolour the terminal, set
/// its title, or make text display as something else. Line breaks are kept (a lone
/// carriage return is escaped: it could overwrite the line), tabs become a space. Markup
/// is just text.
pub fn plain_text(text: &str) -> String {
    escape(&text.replace("\r\n", "\n"), true)
}

/// As [`plain_text`], for a one-line field such as a name: line breaks are escaped too.
pub fn plain_line(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\t' => out.push(' '),
            c if is_forbidden_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// The terminal, or anything written to like one.
#[derive(Debug)]
pub(crate) struct Screen<W> {
    out: W,
    /// The prompt shown at the end of the last line, waiting for input.
    prompt: Option<String>,
}

impl<W: AsyncWrite + Unpin> Screen<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { out, prompt: None }
    }

    /// Prints one line (already safe: build it with [`plain_text`] from server text).
    /// Continuation lines are indented. An open prompt is moved below it.
    pub(crate) async fn line(&mut self, text: &str) -> std::io::Result<()> {
        let mut buf = String::new();
        if self.prompt.is_some() {
            buf.push('\n');
        }
        for (i, l) in text.split('\n').enumerate() {
            if i > 0 {
                buf.push_str("\n    ");
            }
            buf.push_str(l);
        }
        buf.push('\n');
        if let Some(p) = &self.prompt {
            buf.push_str(p);
        }
        self.write(&buf).await
    }

    /// Shows a prompt and leaves the cursor after it.
    pub(crate) async fn prompt(&mut self, text: &str) -> std::io::Result<()> {
        let text = format!("{text} ");
        self.prompt = Some(text.clone());
        self.write(&text).await
    }

    /// The visitor pressed Enter: the prompt is answered.
    pub(crate) fn answered(&mut self) {
        self.prompt = None;
    }

    async fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.out.write_all(text.as_bytes()).await?;
        self.out.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_overrides() {
        assert_eq!(
            plain_text("\u{1b}[31mred\u{7}\u{9b}2J"),
            "\\u{1b}[31mred\\u{7}\\u{9b}2J"
        );
        assert_eq!(plain_text("a\r\nb\rc\td\u{202e}"), "a\nb\\u{d}c d\\u{202e}");
        assert_eq!(plain_line("Eve\nAdmin"), "Eve\\u{a}Admin");
        assert_eq!(plain_text("<b>hi</b> & ü"), "<b>hi</b> & ü");
    }

    #[tokio::test]
    async fn output_moves_an_open_prompt_down() {
        let mut screen = Screen::new(Vec::new());
        screen.prompt("Email:").await.unwrap();
        screen.line("Alex joined\nthe chat.").await.unwrap();
        screen.answered();
        screen.line("done").await.unwrap();
        let text = String::from_utf8(screen.out).unwrap();
        assert_eq!(text, "Email: \nAlex joined\n    the chat.\nEmail: done\n");
    }
}
