//! argon2id password hashing, off the async runtime.
//!
//! Each hash or verification runs on the blocking pool behind a semaphore
//! sized to the cores: argon2 is CPU-bound and holds ~19 MiB per call, so
//! running more at once only adds memory and latency, not throughput.
//! Unknown accounts are verified against a dummy hash so a wrong identifier
//! costs exactly what a wrong password costs.

use std::sync::Arc;

use aggregates::values::Password;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::argon2_memory::BlockPool;
use crate::config::Argon2Config;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters")]
    Params(argon2::Error),
    #[error("password hashing failed")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("the hashing pool is closed")]
    Closed,
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    memory: Arc<BlockPool>,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(config: &Argon2Config) -> Result<Self, HashError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(HashError::Params)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_with(&argon2, "dummy password for unknown accounts")?;
        Ok(Self {
            argon2: Arc::new(argon2),
            memory: Arc::default(),
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        let password = password.expose().to_owned();
        self.blocking("hash", move || hash_with(&argon2, &password))
            .await?
    }

    /// Whether `candidate` matches `phc`. A malformed hash never matches.
    pub async fn verify(&self, candidate: &str, phc: &str) -> Result<bool, HashError> {
        let memory = self.memory.clone();
        let candidate = candidate.to_owned();
        // An account without a password (signed up through an OpenID
        // provider) matches nothing, after the same work as any other.
        let no_password = phc.is_empty();
        let phc = if no_password {
            self.dummy_hash.to_string()
        } else {
            phc.to_owned()
        };
        let matches = self
            .blocking("verify", move || memory.verify(candidate.as_bytes(), &phc))
            .await?;
        Ok(matches && !no_password)
    }

    /// Does the work of a verification for an account that does not exist.
    pub async fn verify_dummy(&self, candidate: &str) -> Result<(), HashError> {
        let dummy = self.dummy_hash.clone();
        self.verify(candidate, &dummy).await.map(|_| ())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let queued = std::time::Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        crate::instruments::argon2(operation, queued.elapsed());
        let span = tracing::Span::current();
        Ok(tokio::task::spawn_blocking(move || span.in_scope(work))
            .instrument(tracing::Span::current())
            .await?)
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Hash)
}
