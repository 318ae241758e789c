//! The bench's view of the workspace's SMTP sink (`sinks`, shared with
//! the API tests): the verification code of each account it creates.

use std::time::Duration;

use anyhow::anyhow;
pub use sinks::SmtpSink;

/// The codes a sink received, by recipient.
#[derive(Clone)]
pub struct Inbox(SmtpSink);

impl Inbox {
    pub fn of(sink: &SmtpSink) -> Self {
        Self(sink.clone())
    }

    /// Waits until the (first) code for `email` has arrived.
    pub async fn take_code(&self, email: &str, timeout: Duration) -> anyhow::Result<String> {
        self.0
            .nth_code(email, 1, timeout)
            .await
            .ok_or_else(|| anyhow!("no verification email for {email} within {timeout:?}"))
    }
}
