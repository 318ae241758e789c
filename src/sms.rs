//! Outgoing SMS: a client of the Twilio Messages API (`POST
//! {base}/2010-04-01/Accounts/{account}/Messages.json`, form fields `To`,
//! `From`, `Body`, HTTP basic auth), which many providers and gateways
//! speak, behind a timeout and the shared circuit breaker. With no provider
//! configured (`IDENTITY_SMS_URL` unset), each message is written as a file
//! under `<IDENTITY_DATA_DIR>/sms/`, as mail is without SMTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{BreakerError, CircuitBreaker};
use crate::config::SmsConfig;

/// What went wrong at the provider; each counts as a failure for the
/// breaker.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error("the SMS provider answered status {0}")]
    Status(u16),
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("the SMS client could not be set up")]
    Client(#[source] reqwest::Error),
    #[error("sending failed")]
    Send(#[from] BreakerError<ProviderError>),
    #[error("writing the SMS file failed")]
    File(#[from] std::io::Error),
    #[error("IDENTITY_DATA_DIR: cannot create {0}: {1}")]
    Dir(String, std::io::Error),
}

#[derive(Clone)]
enum Transport {
    Http {
        client: reqwest::Client,
        endpoint: String,
        account: String,
        token: String,
    },
    Files {
        dir: PathBuf,
    },
}

/// Sends text messages to E.164 numbers.
#[derive(Clone)]
pub struct SmsSender {
    transport: Transport,
    from: String,
    breaker: Arc<CircuitBreaker>,
}

impl SmsSender {
    /// The provider when `IDENTITY_SMS_URL` is set, otherwise files under
    /// `<data_dir>/sms/` (created here, so an unwritable data directory
    /// stops start-up).
    pub fn new(config: &SmsConfig, data_dir: &std::path::Path) -> Result<Self, SmsError> {
        let transport = match &config.url {
            Some(base) => Transport::Http {
                client: reqwest::Client::builder()
                    .timeout(config.timeout)
                    .build()
                    .map_err(SmsError::Client)?,
                endpoint: format!(
                    "{}/2010-04-01/Accounts/{}/Messages.json",
                    base.trim_end_matches('/'),
                    config.account
                ),
                account: config.account.clone(),
                token: config.token.clone().unwrap_or_default(),
            },
            None => {
                let dir = data_dir.join("sms");
                std::fs::create_dir_all(&dir)
                    .map_err(|error| SmsError::Dir(dir.display().to_string(), error))?;
                tracing::info!(dir = %dir.display(), "no SMS provider configured (IDENTITY_SMS_URL): messages are written to files");
                Transport::Files { dir }
            }
        };
        Ok(Self {
            transport,
            from: config.from.clone(),
            breaker: Arc::new(CircuitBreaker::new(
                "sms",
                5,
                config.breaker_cool_down,
                config.timeout + Duration::from_secs(1),
            )),
        })
    }

    /// Whether the provider's circuit is open (calls refused for now).
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Sends `body` to `to` (E.164).
    pub async fn send(&self, to: &str, body: &str) -> Result<(), SmsError> {
        match &self.transport {
            Transport::Http {
                client,
                endpoint,
                account,
                token,
            } => {
                let request = client
                    .post(endpoint)
                    .basic_auth(account, Some(token))
                    .form(&[("To", to), ("From", &self.from), ("Body", body)])
                    .send();
                self.breaker
                    .call(async {
                        let status = request.await?.status();
                        if status.is_success() {
                            Ok(())
                        } else {
                            Err(ProviderError::Status(status.as_u16()))
                        }
                    })
                    .await?;
            }
            Transport::Files { dir } => {
                let file = dir.join(format!("{}.txt", uuid::Uuid::now_v7()));
                let text = format!("To: {to}\nFrom: {}\n\n{body}\n", self.from);
                tokio::fs::write(&file, text).await?;
                tracing::info!(file = %file.display(), "SMS written");
            }
        }
        // Every text the service sends carries a one-time code.
        crate::instruments::code_sent("sms");
        Ok(())
    }
}
