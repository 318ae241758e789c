//! Sends the service's emails through an SMTP relay, or, when no relay is
//! configured (a first run on a laptop), writes each one as an `.eml` file
//! under `<IDENTITY_DATA_DIR>/mail/` so that a newcomer can read a
//! verification code with `cat`. The log names the file, never the code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::breaker::{BreakerError, CircuitBreaker};
use crate::config::{Config, SmtpConfig};

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
    #[error("writing the mail file failed")]
    File(#[from] lettre::transport::file::Error),
    #[error("IDENTITY_DATA_DIR: cannot create {0}: {1}")]
    MailDir(String, std::io::Error),
}

/// The kinds of one-time code mailed.
#[derive(Debug, Clone, Copy)]
enum CodeMail {
    Verification,
    PasswordReset,
    SignIn,
    EmailChange,
}

impl CodeMail {
    fn wording(self) -> (&'static str, &'static str) {
        match self {
            Self::Verification => (
                "verification",
                "If you did not ask for it, ignore this email.",
            ),
            Self::PasswordReset => (
                "password reset",
                "If you did not ask to reset your password, ignore this email: your password stays as it is.",
            ),
            Self::SignIn => (
                "sign-in",
                "If you did not ask to sign in, ignore this email.",
            ),
            Self::EmailChange => (
                "email change",
                "Enter it where you asked to make this address your account's. If you did not ask for it, ignore this email: nothing changes.",
            ),
        }
    }
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    breaker: Arc<CircuitBreaker>,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl Mailer {
    /// SMTP when configured, otherwise files under `<data_dir>/mail/`
    /// (created here, so an unwritable data directory stops start-up).
    pub fn new(config: &Config) -> Result<Self, MailError> {
        let mut mailer = Self::smtp(&config.smtp)?;
        if !config.smtp_enabled {
            let dir = config.data_dir.join("mail");
            std::fs::create_dir_all(&dir)
                .map_err(|error| MailError::MailDir(dir.display().to_string(), error))?;
            tracing::info!(dir = %dir.display(), "no SMTP relay configured (IDENTITY_SMTP_HOST): mail is written to files");
            mailer.transport = Transport::Files {
                transport: AsyncFileTransport::new(&dir),
                dir,
            };
        }
        Ok(mailer)
    }

    fn smtp(config: &SmtpConfig) -> Result<Self, MailError> {
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
            transport: Transport::Smtp(builder.build()),
            from: config.from.parse()?,
            breaker: Arc::new(CircuitBreaker::new(
                "smtp",
                5,
                crate::breaker::COOL_DOWN,
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
        self.send_code(to, CodeMail::Verification, code, valid_for)
            .await
    }

    /// Sends a password-reset code to `to`.
    pub async fn send_password_reset_code(
        &self,
        to: &str,
        code: &str,
        valid_for: Duration,
    ) -> Result<(), MailError> {
        self.send_code(to, CodeMail::PasswordReset, code, valid_for)
            .await
    }

    /// Sends a passwordless sign-in code to `to`.
    pub async fn send_sign_in_code(
        &self,
        to: &str,
        code: &str,
        valid_for: Duration,
    ) -> Result<(), MailError> {
        self.send_code(to, CodeMail::SignIn, code, valid_for).await
    }

    /// "Your {what} code is {code}", how long it is valid, and what to do
    /// if it was not asked for.
    async fn send_code(
        &self,
        to: &str,
        kind: CodeMail,
        code: &str,
        valid_for: Duration,
    ) -> Result<(), MailError> {
        let (what, note) = kind.wording();
        let minutes = valid_for.as_secs().div_ceil(60);
        let body =
            format!("Your {what} code is {code}\n\nIt is valid for {minutes} minutes. {note}\n");
        self.send(to, &format!("Your {what} code"), body).await?;
        crate::instruments::code_sent("email");
        Ok(())
    }

    /// Sends the code that makes `to` the account's new address.
    pub async fn send_email_change_code(
        &self,
        to: &str,
        code: &str,
        valid_for: Duration,
    ) -> Result<(), MailError> {
        self.send_code(to, CodeMail::EmailChange, code, valid_for)
            .await
    }

    /// Tells the old address `to` that the account's address is now
    /// `new_email` (shown masked).
    pub async fn send_email_changed(&self, to: &str, new_email: &str) -> Result<(), MailError> {
        let body = format!(
            "The email address of your account was just changed to {}. This address no longer signs in to it.\n\nIf this was not you, contact support at once.\n",
            mask(new_email)
        );
        self.send(to, "Your email address was changed", body).await
    }

    /// Tells the owner of `to` that someone asked to use the address for
    /// another account (no code is sent, nothing changes).
    pub async fn send_email_in_use(&self, to: &str) -> Result<(), MailError> {
        let body = "Someone signed in to another account asked to make this address that account's. This address already belongs to your account, so nothing was changed and no code was sent.\n\nIf it was you, sign in to this account instead. Otherwise you need do nothing.\n".to_owned();
        self.send(to, "Someone tried to use your email address", body)
            .await
    }

    /// Tells `to` that the account's password was changed.
    pub async fn send_password_changed(&self, to: &str) -> Result<(), MailError> {
        let body = "The password of your account was just changed, and every other session was signed out.\n\nIf this was not you, reset your password at once and contact support.\n".to_owned();
        self.send(to, "Your password was changed", body).await
    }

    async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                self.breaker.call(smtp.send(message)).await?;
            }
            Transport::Files { transport, dir } => {
                let id = transport.send(message).await?;
                let file = dir.join(format!("{id}.eml"));
                tracing::info!(file = %file.display(), "mail written");
            }
        }
        Ok(())
    }
}

/// `ada@example.org` as `a***@example.org`: enough for the owner to know
/// it, not the whole address for whoever reads the old mailbox.
fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}
