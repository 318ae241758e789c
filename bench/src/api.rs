//! A minimal client for the endpoints the bench drives. Each load task owns
//! one `Api`, hence one keep-alive connection.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// The part of a token pair the bench uses.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

/// The part of `relay_lag` in `GET /health/ready` the bench reads: events
/// not yet published to NATS.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RelayLag {
    pub events: i64,
}

/// Why a request did not succeed, as counted in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with a non-2xx status, and the problem `code`
    /// when the body had one.
    Status(u16, Option<String>),
    /// No answer: connect error, reset, timeout.
    Transport,
    /// A 2xx answer whose body was not what the API documents.
    Decode,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status, None) => write!(f, "http_{status}"),
            Self::Status(status, Some(code)) => write!(f, "http_{status}_{code}"),
            Self::Transport => f.write_str("transport"),
            Self::Decode => f.write_str("decode"),
        }
    }
}

impl std::error::Error for Failure {}

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .build()?;
        Ok(Self {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<(), Failure> {
        let body = json!({"username": username, "email": email, "password": password});
        self.post::<Value>("/api/v1/auth/register", &body)
            .await
            .map(drop)
    }

    /// Registers through an influencer's referral code; returns the new
    /// user's id.
    pub async fn register_referred(
        &self,
        username: &str,
        email: &str,
        password: &str,
        referral_code: &str,
    ) -> Result<String, Failure> {
        let body = json!({
            "username": username,
            "email": email,
            "password": password,
            "referral_code": referral_code,
        });
        let created: Value = self.post("/api/v1/auth/register", &body).await?;
        created
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(Failure::Decode)
    }

    /// `POST` with a bearer token and an optional JSON body; the answer's
    /// JSON body.
    pub async fn post_authorized(
        &self,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        let response = request.send().await.map_err(|_| Failure::Transport)?;
        check(response)
            .await?
            .json()
            .await
            .map_err(|_| Failure::Decode)
    }

    pub async fn verify_email(&self, email: &str, code: &str) -> Result<TokenPair, Failure> {
        let body = json!({"email": email, "code": code});
        self.post("/api/v1/auth/verify-email", &body).await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Result<TokenPair, Failure> {
        let body = json!({"identifier": identifier, "password": password});
        self.post("/api/v1/auth/login", &body).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Failure> {
        let body = json!({"refresh_token": refresh_token});
        self.post("/api/v1/auth/refresh", &body).await
    }

    pub async fn me(&self, access_token: &str) -> Result<(), Failure> {
        let request = self
            .client
            .get(format!("{}/api/v1/me", self.base))
            .bearer_auth(access_token);
        drain(request).await
    }

    /// `GET path`, with a bearer token if given; the JSON body.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Result<Value, Failure> {
        let request = self.client.get(format!("{}{path}", self.base));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.map_err(|_| Failure::Transport)?;
        check(response)
            .await?
            .json()
            .await
            .map_err(|_| Failure::Decode)
    }

    pub async fn live(&self) -> Result<(), Failure> {
        drain(self.client.get(format!("{}/health/live", self.base))).await
    }

    pub async fn relay_lag(&self) -> Result<RelayLag, Failure> {
        #[derive(Deserialize)]
        struct Ready {
            relay_lag: RelayLag,
        }
        let response = self
            .client
            .get(format!("{}/health/ready", self.base))
            .send()
            .await
            .map_err(|_| Failure::Transport)?;
        let ready: Ready = check(response)
            .await?
            .json()
            .await
            .map_err(|_| Failure::Decode)?;
        Ok(ready.relay_lag)
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, Failure> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|_| Failure::Transport)?;
        let response = check(response).await?;
        response.json().await.map_err(|_| Failure::Decode)
    }
}

/// Sends, checks the status and reads the whole body, so the connection
/// goes back to the pool.
async fn drain(request: reqwest::RequestBuilder) -> Result<(), Failure> {
    let response = request.send().await.map_err(|_| Failure::Transport)?;
    check(response)
        .await?
        .bytes()
        .await
        .map(drop)
        .map_err(|_| Failure::Transport)
}

/// Passes 2xx answers on; reads the body of any other (so the connection
/// stays usable) for its problem `code`.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let code = response
        .json::<Value>()
        .await
        .ok()
        .and_then(|problem| problem.get("code")?.as_str().map(str::to_owned));
    Err(Failure::Status(status.as_u16(), code))
}
