//! Sends the service's emails through an SMTP relay.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::breaker::{BreakerError, CircuitBreaker};
use crate::config::SmtpConfig;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address")]
    Address(#[from] lettre::address::AddressError),
    #[error("message could not be built")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP transport setup failed")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error("sending failed")]
    Send(#[from] BreakerError<lettre::transport::smtp::Error>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    breaker: Arc<CircuitBreaker>,
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, MailError> {
        let mut builder = if config.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
        }
        .port(config.port)
        .timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.parse()?,
            breaker: Arc::new(CircuitBreaker::new(
                "smtp",
                5,
                Duration::from_secs(30),
                config.timeout + Duration::from_secs(1),
            )),
        })
    }

    /// Sends the email-verification code to `to`.
    pub async fn send_verification_code(
        &self,
        to: &str,
        code: &str,
        valid_for: Duration,
    ) -> Result<(), MailError> {
        let minutes = valid_for.as_secs().div_ceil(60);
        let body = format!(
            "Your verification code is {code}\n\nIt is valid for {minutes} minutes. If you did not ask for it, ignore this email.\n"
        );
        self.send(to, "Your verification code", body).await
    }

    async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.breaker.call(self.transport.send(message)).await?;
        Ok(())
    }
}
