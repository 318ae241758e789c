//! The tests' SMTP sink: the workspace's shared `sinks` (also the
//! bench's), with waits that fail the test when no code comes.

use std::time::Duration;

pub use sinks::{extract_code, SmtpSink};

/// How long a test waits for a message.
const WAIT: Duration = Duration::from_secs(10);

pub(crate) trait Codes {
    /// The code of the first mail to `address`, waiting for it.
    async fn wait_for_code(&self, address: &str) -> String;
    /// The code of the `n`-th mail (1-based) to `address`, waiting for it.
    async fn wait_for_nth_code(&self, address: &str, n: usize) -> String;
}

impl Codes for SmtpSink {
    async fn wait_for_code(&self, address: &str) -> String {
        self.wait_for_nth_code(address, 1).await
    }

    async fn wait_for_nth_code(&self, address: &str, n: usize) -> String {
        self.nth_code(address, n, WAIT)
            .await
            .unwrap_or_else(|| panic!("no mail #{n} with a code to {address}"))
    }
}
