//! Outgoing email over SMTP (lettre), behind a timeout and a circuit
//! breaker so a dead relay costs callers nothing but a log line.

mod mailer;

pub use mailer::{MailError, Mailer};
