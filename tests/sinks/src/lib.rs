//! Real servers on loopback that keep what they receive, shared by the API
//! tests and the bench: an SMTP server for mail and an HTTP server speaking
//! the Twilio Messages API for SMS. The service talks to them exactly as to
//! a production relay or provider, and callers read the one-time codes from
//! what was delivered.

pub mod sms;
pub mod smtp;

pub use sms::{Sms, SmsSink};
pub use smtp::{extract_code, Mail, SmtpSink};
