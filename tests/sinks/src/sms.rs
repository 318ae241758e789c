//! A real SMS provider on loopback: an HTTP server speaking the Twilio
//! Messages API (`POST /2010-04-01/Accounts/{account}/Messages.json`, form
//! fields `To`, `From`, `Body`, HTTP basic auth), keeping every message it
//! accepts. It can be stopped (connections refused, as with a provider that
//! is down) and started again on the same port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Sms {
    pub to: String,
    pub from: String,
    pub body: String,
}

#[derive(Clone)]
struct Inbox {
    account: String,
    token: String,
    messages: Arc<Mutex<Vec<Sms>>>,
}

/// The listening provider; stops when dropped.
pub struct SmsSink {
    port: u16,
    inbox: Inbox,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl SmsSink {
    /// Listens on a free loopback port, accepting `account` with `token`.
    pub async fn start(account: &str, token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let inbox = Inbox {
            account: account.to_owned(),
            token: token.to_owned(),
            messages: Arc::default(),
        };
        let server = Mutex::new(Some(serve(listener, inbox.clone())));
        Ok(Self {
            port,
            inbox,
            server,
        })
    }

    /// The base URL to configure the service with.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops listening: connections are refused until [`Self::restart`].
    pub fn stop(&self) {
        if let Some(server) = lock(&self.server).take() {
            server.abort();
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&self) -> std::io::Result<()> {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        *lock(&self.server) = Some(serve(listener, self.inbox.clone()));
        Ok(())
    }

    /// The messages to `to`, in the order accepted.
    pub fn messages_to(&self, to: &str) -> Vec<Sms> {
        lock(&self.inbox.messages)
            .iter()
            .filter(|m| m.to == to)
            .cloned()
            .collect()
    }

    /// The code of the `n`-th message (1-based) to `to`, waiting up to
    /// `timeout` for it.
    pub async fn nth_code(&self, to: &str, n: usize, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(sms) = self.messages_to(to).get(n.saturating_sub(1)) {
                return crate::extract_code(&sms.body);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmsSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, inbox: Inbox) -> JoinHandle<()> {
    let app = Router::new()
        .route("/2010-04-01/Accounts/{account}/Messages.json", post(accept))
        .with_state(inbox);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Accepts a message as Twilio does: 201 with the message resource, 401
/// for wrong credentials, 400 for a message without `To` or `Body`.
async fn accept(
    State(inbox): State<Inbox>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<serde_json::Value>) {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", inbox.account, inbox.token));
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"));
    if !authorized || account != inbox.account {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"code": 20003})),
        );
    }
    let (Some(to), Some(body)) = (form.get("To"), form.get("Body")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"code": 21604})),
        );
    };
    let sms = Sms {
        to: to.clone(),
        from: form.get("From").cloned().unwrap_or_default(),
        body: body.clone(),
    };
    let mut messages = lock(&inbox.messages);
    messages.push(sms);
    let sid = format!("SM{:032}", messages.len());
    (
        StatusCode::CREATED,
        Json(serde_json::json!({"sid": sid, "status": "queued"})),
    )
}

/// A poisoned lock only means a handler panicked mid-push.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
