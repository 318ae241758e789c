//! A tiny SMTP sink on 127.0.0.1. It accepts every message the service sends
//! (plain SMTP, no TLS, no auth) and keeps the verification code of the last
//! message to each recipient, so the bench can verify the accounts it creates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Codes received so far, by lower-cased recipient address.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    codes: Arc<Mutex<HashMap<String, String>>>,
}

impl Inbox {
    /// Waits until a code for `email` has arrived and takes it.
    pub async fn take_code(&self, email: &str, timeout: Duration) -> anyhow::Result<String> {
        let key = email.to_ascii_lowercase();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.lock()?.remove(&key) {
                return Ok(code);
            }
            if Instant::now() >= deadline {
                return Err(anyhow!(
                    "no verification email for {email} within {timeout:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn store(&self, recipients: &[String], message: &str) {
        let Some(code) = extract_code(message) else {
            return;
        };
        if let Ok(mut codes) = self.lock() {
            for recipient in recipients {
                codes.insert(recipient.clone(), code.clone());
            }
        }
    }

    fn lock(&self) -> anyhow::Result<std::sync::MutexGuard<'_, HashMap<String, String>>> {
        self.codes
            .lock()
            .map_err(|_| anyhow!("the SMTP inbox lock is poisoned"))
    }
}

/// The listening sink; stops accepting when dropped.
pub struct SmtpSink {
    port: u16,
    inbox: Inbox,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the SMTP sink")?;
        let port = listener.local_addr()?.port();
        let inbox = Inbox::default();
        let task = tokio::spawn(accept(listener, inbox.clone()));
        Ok(Self { port, inbox, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, inbox: Inbox) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // A broken client connection only loses that connection.
                tokio::spawn(session(stream, inbox.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One SMTP conversation: 250 to everything except DATA (354, then read to
/// the lone ".") and QUIT (221).
async fn session(stream: TcpStream, inbox: Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut recipients = Vec::new();
    while let Some(line) = read_line(&mut reader).await? {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let message = read_data(&mut reader).await?;
                inbox.store(&recipients, &message);
                recipients.clear();
                write.write_all(b"250 OK queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            "RCPT" => {
                recipients.extend(address(&line));
                write.write_all(b"250 OK\r\n").await?;
            }
            "MAIL" | "RSET" => {
                recipients.clear();
                write.write_all(b"250 OK\r\n").await?;
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
    Ok(())
}

/// The next line without its line ending; `None` at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&buf);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn read_data<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> std::io::Result<String> {
    let mut message = String::new();
    while let Some(line) = read_line(reader).await? {
        if line == "." {
            break;
        }
        message.push_str(&line);
        message.push('\n');
    }
    Ok(message)
}

/// `RCPT TO:<a@b.c>` → `a@b.c`, lower-cased.
fn address(line: &str) -> Option<String> {
    let start = line.find('<')? + 1;
    let end = start + line[start..].find('>')?;
    Some(line[start..end].to_ascii_lowercase())
}

/// The six digits after "code is ", tolerating quoted-printable soft breaks.
pub fn extract_code(message: &str) -> Option<String> {
    let unfolded = message.replace("=\n", "");
    let start = unfolded.find("code is ")? + "code is ".len();
    let code = unfolded.get(start..start + 6)?;
    code.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_code_finds_six_digits_after_the_phrase() {
        let body = "Subject: x\n\nYour verification code is 042917\n\nIt is valid.\n";
        assert_eq!(extract_code(body).as_deref(), Some("042917"));
    }

    #[test]
    fn extract_code_rejects_short_codes() {
        assert_eq!(extract_code("code is 12a456"), None);
    }

    #[test]
    fn address_reads_the_angle_brackets() {
        assert_eq!(
            address("RCPT TO:<Bob@Example.com>").as_deref(),
            Some("bob@example.com")
        );
    }
}
