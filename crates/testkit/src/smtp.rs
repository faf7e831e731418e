//! A real SMTP sink for tests: it listens on 127.0.0.1, speaks enough of RFC 5321 for a
//! client such as `lettre` (EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT; no TLS, no AUTH), and keeps every message it accepts. A test waits for the next
//! one with `next_message`, then reads its parts and links.

use base64::Engine;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One accepted message: the envelope and the raw data (after dot-unstuffing, CRLF lines).
#[derive(Clone, Debug)]
pub struct Message {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A MIME part: its headers (names lowercased) and its decoded body.
#[derive(Clone, Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("text/plain")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

/// Splits headers (unfolding continuation lines) from the body.
fn split_headers(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

fn decode_quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(hex) = s.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_body(encoding: Option<&str>, body: &str) -> String {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        Some("quoted-printable") => decode_quoted_printable(body),
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        _ => body.to_string(),
    }
}

fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn parts_of(raw: &str, out: &mut Vec<Part>) {
    let (headers, body) = split_headers(raw);
    let part = Part { headers, body };
    let ct = part
        .header("content-type")
        .unwrap_or("text/plain")
        .to_string();
    if ct.to_ascii_lowercase().starts_with("multipart/")
        && let Some(boundary) = param(&ct, "boundary")
    {
        let delim = format!("--{boundary}");
        for chunk in part.body.split(&delim).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            parts_of(chunk.trim_start_matches('\n'), out);
        }
        return;
    }
    let body = decode_body(part.header("content-transfer-encoding"), &part.body);
    out.push(Part {
        headers: part.headers,
        body,
    });
}

impl Message {
    /// A top-level header's value (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        split_headers(&self.data)
            .0
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    pub fn subject(&self) -> String {
        self.header("subject").unwrap_or_default()
    }

    /// Every leaf part, decoded (a single-part message is one part).
    pub fn parts(&self) -> Vec<Part> {
        let mut out = Vec::new();
        parts_of(&self.data, &mut out);
        out
    }

    fn part(&self, content_type: &str) -> Option<String> {
        self.parts()
            .into_iter()
            .find(|p| p.content_type() == content_type)
            .map(|p| p.body)
    }

    /// The decoded `text/plain` part.
    pub fn text(&self) -> Option<String> {
        self.part("text/plain")
    }

    /// The decoded `text/html` part.
    pub fn html(&self) -> Option<String> {
        self.part("text/html")
    }

    /// The first link starting with `prefix` in the text part.
    pub fn text_link(&self, prefix: &str) -> Option<String> {
        link_in(&self.text()?, prefix)
    }

    /// The first link starting with `prefix` in the HTML part.
    pub fn html_link(&self, prefix: &str) -> Option<String> {
        link_in(&self.html()?, prefix)
    }
}

/// The first URL starting with `prefix` in `body`, up to whitespace, a quote or `<`.
pub fn link_in(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(prefix)?;
    let rest = &body[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
        .unwrap_or(rest.len());
    Some(rest[..end].replace("&amp;", "&"))
}

/// The `token` query parameter of a link.
pub fn token_of(link: &str) -> Option<String> {
    let (_, q) = link.split_once('?')?;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_string)
}

/// A running sink. Dropping it stops listening.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Message>>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// A sink on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A sink on `port` of 127.0.0.1 (0: any free port).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind SMTP sink");
        let port = listener.local_addr().expect("sink addr").port();
        let (tx, rx) = mpsc::unbounded_channel();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let tx = tx.clone();
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(sock, tx, store).await;
                });
            }
        });
        Self {
            port,
            received,
            rx: tokio::sync::Mutex::new(rx),
            task,
        }
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Message> {
        self.received.lock().expect("sink lock").clone()
    }

    /// The next message not yet taken; panics after `timeout`.
    pub async fn next_message(&self, timeout: Duration) -> Message {
        self.try_next_message(timeout)
            .await
            .unwrap_or_else(|| panic!("no email arrived within {timeout:?}"))
    }

    /// The next message not yet taken, or `None` after `timeout`.
    pub async fn try_next_message(&self, timeout: Duration) -> Option<Message> {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn session(
    sock: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Message>,
    store: Arc<Mutex<Vec<Message>>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 flowspace-test-sink ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let addr = |s: &str| {
            let s = s.split_once(':').map(|x| x.1).unwrap_or("").trim();
            let s = s.split_whitespace().next().unwrap_or("");
            s.trim_start_matches('<').trim_end_matches('>').to_string()
        };
        if upper.starts_with("EHLO") {
            w.write_all(b"250-flowspace-test-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 flowspace-test-sink\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = addr(cmd);
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(addr(cmd));
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            if to.is_empty() {
                w.write_all(b"503 RCPT first\r\n").await?;
                continue;
            }
            w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push_str("\r\n");
            }
            let msg = Message {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            };
            store.lock().expect("sink lock").push(msg.clone());
            let _ = tx.send(msg);
            w.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("NOOP") {
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"502 command not implemented\r\n").await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multipart_with_encodings() {
        let data = "Subject: Hi\r\nContent-Type: multipart/alternative;\r\n boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGo to http://x/register?token=3Dab=\r\ncd now\r\n--XYZ\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGEgaHJlZj0iaHR0cDovL3gvcmVnaXN0ZXI/dG9rZW49YWJjZCI+PC9hPg==\r\n--XYZ--\r\n";
        let m = Message {
            from: "a".into(),
            to: vec!["b".into()],
            data: data.into(),
        };
        assert_eq!(m.subject(), "Hi");
        assert_eq!(
            m.text_link("http://x/register").as_deref(),
            Some("http://x/register?token=abcd")
        );
        assert_eq!(
            m.html_link("http://x/register").as_deref(),
            Some("http://x/register?token=abcd")
        );
        assert_eq!(
            token_of("http://x/register?token=abcd").as_deref(),
            Some("abcd")
        );
    }
}
