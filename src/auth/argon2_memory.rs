//! argon2id verification with reused working memory.
//!
//! `PasswordVerifier::verify_password` allocates the 19 MiB working area on
//! every call; on the blocking pool's changing threads that means fresh pages
//! from the kernel, zeroed, every time, which cost about as much CPU again as
//! the hash itself under load. Here each verification borrows a buffer from a
//! small pool (one per permitted concurrent hash) and runs the same
//! computation through the argon2 crate's `hash_password_into_with_memory`,
//! then compares the outputs in constant time. No cryptography of our own.

use std::sync::Mutex;

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Longest salt we accept (PHC allows up to 48 bytes encoded as 64 chars).
const MAX_SALT: usize = 64;

#[derive(Default)]
pub struct BlockPool(Mutex<Vec<Vec<Block>>>);

impl BlockPool {
    fn take(&self, blocks: usize) -> Vec<Block> {
        let reused = self.lock().pop();
        match reused {
            Some(buffer) if buffer.len() == blocks => buffer,
            _ => vec![Block::default(); blocks],
        }
    }

    fn give(&self, buffer: Vec<Block>) {
        self.lock().push(buffer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        // Buffers carry no invariants: a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `candidate` matches the argon2id PHC string `phc`. Anything
    /// malformed or of another algorithm never matches.
    pub fn verify(&self, candidate: &[u8], phc: &str) -> bool {
        self.try_verify(candidate, phc).unwrap_or(false)
    }

    fn try_verify(&self, candidate: &[u8], phc: &str) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return None;
        }
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::V0x13,
        };
        let params = Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt_buf = [0u8; MAX_SALT];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut output = vec![0u8; expected.len()];
        let mut blocks = self.take(params.block_count());
        let hashed = Argon2::new(Algorithm::Argon2id, version, params)
            .hash_password_into_with_memory(candidate, salt, &mut output, &mut blocks[..]);
        self.give(blocks);
        hashed.ok()?;
        Some(bool::from(expected.as_bytes().ct_eq(&output)))
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    use super::*;

    fn phc(password: &str) -> String {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn pooled_verification_agrees_with_the_argon2_crate() {
        let pool = BlockPool::default();
        let hash = phc("Correct-Horse-9!");
        assert!(pool.verify(b"Correct-Horse-9!", &hash));
        assert!(!pool.verify(b"Wrong-Horse-9!", &hash));
        // Second round reuses the buffer.
        assert!(pool.verify(b"Correct-Horse-9!", &hash));
        assert_eq!(pool.lock().len(), 1);
    }

    #[test]
    fn malformed_or_foreign_hashes_never_match() {
        let pool = BlockPool::default();
        assert!(!pool.verify(b"x", "not a hash"));
        assert!(!pool.verify(b"x", &phc("x").replace("argon2id", "argon2i")));
    }
}
