//! "Not again within N seconds", shared by every instance through the
//! database.
//!
//! Keys are HMACs of what they guard (an email address, say), so the table
//! holds no personal data in the clear.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::store::{Database, StoreError};

#[derive(Clone)]
pub struct Cooldowns {
    db: Database,
    key: Zeroizing<[u8; 32]>,
}

impl Cooldowns {
    pub fn new(db: impl Into<Database>, key: Zeroizing<[u8; 32]>) -> Self {
        Self { db: db.into(), key }
    }

    /// Starts a cooldown of `period` on `subject` unless one is running;
    /// returns the time left of the running one.
    pub async fn try_start(
        &self,
        scope: &str,
        subject: &str,
        period: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let key = self.key(scope, subject);
        self.db.start_cooldown(&key, period).await
    }

    fn key(&self, scope: &str, subject: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&*self.key).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(subject.as_bytes());
        format!("{scope}:{}", hex::encode(mac.finalize().into_bytes()))
    }
}
