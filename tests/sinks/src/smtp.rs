//! A real SMTP server on loopback (plain SMTP, no TLS, no auth) that keeps
//! the messages it receives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One delivered message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct Store {
    /// Every message, in delivery order.
    all: Vec<Mail>,
    /// Indexes into `all` by lower-cased recipient, so a wait for one
    /// address does not scan every message (the bench sends thousands).
    by_recipient: HashMap<String, Vec<usize>>,
}

/// The listening sink; clones share it, and it stops accepting when the
/// last one is dropped.
#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    store: Arc<Mutex<Store>>,
    _acceptor: Arc<Acceptor>,
}

struct Acceptor(JoinHandle<()>);

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let store = Arc::new(Mutex::new(Store::default()));
        let task = tokio::spawn(accept(listener, store.clone()));
        Ok(Self {
            port,
            store,
            _acceptor: Arc::new(Acceptor(task)),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message so far, in delivery order.
    pub fn mails(&self) -> Vec<Mail> {
        lock(&self.store).all.clone()
    }

    /// The messages to `address` (any case), in delivery order.
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        let store = lock(&self.store);
        store
            .by_recipient
            .get(&address.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .map(|&i| store.all[i].clone())
            .collect()
    }

    /// The code of the `n`-th message (1-based) to `address`, waiting up
    /// to `timeout` for it; `None` if it did not come or holds no code.
    pub async fn nth_code(&self, address: &str, n: usize, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self.mails_to(address).get(n.saturating_sub(1)) {
                return extract_code(&mail.data);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The code follows "code is " in the body (headers hold other digits).
pub fn extract_code(data: &str) -> Option<String> {
    let start = data.find("code is ")? + "code is ".len();
    let code: String = data[start..].chars().take(6).collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A poisoned lock only means another session panicked mid-push; the
/// store is still a list of whole messages.
fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept(listener: TcpListener, store: Arc<Mutex<Store>>) {
    loop {
        match listener.accept().await {
            // A broken client connection only loses that connection.
            Ok((stream, _)) => drop(tokio::spawn(session(stream, store.clone()))),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn session(stream: TcpStream, store: Arc<Mutex<Store>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut to = Vec::new();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            to.push(address(&line));
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push_str(&line);
                data.push('\n');
            }
            deliver(
                &store,
                Mail {
                    to: to.clone(),
                    data,
                },
            );
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn deliver(store: &Mutex<Store>, mail: Mail) {
    let mut store = lock(store);
    let index = store.all.len();
    for recipient in &mail.to {
        let key = recipient.to_ascii_lowercase();
        store.by_recipient.entry(key).or_default().push(index);
    }
    store.all.push(mail);
}

/// The address of `RCPT TO:<address>`.
fn address(line: &str) -> String {
    line[8..]
        .trim()
        .trim_start_matches(':')
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_after_the_phrase() {
        assert_eq!(
            extract_code("Subject: x\n\nYour code is 123456."),
            Some("123456".to_owned())
        );
        assert_eq!(extract_code("Your code is 12345."), None);
        assert_eq!(extract_code("no code here 123456"), None);
    }

    #[test]
    fn the_recipient_is_read_from_the_angle_brackets() {
        assert_eq!(address("RCPT TO:<a@b.c>"), "a@b.c");
        assert_eq!(address("RCPT TO: <a@b.c>"), "a@b.c");
    }
}
