//! Credentials and tokens: the server secret and what is derived from it,
//! password hashing, JWT access tokens, refresh tokens and one-time codes.

mod argon2_memory;
pub mod codes;
pub mod jwt;
pub mod keys;
pub mod passwords;
pub mod refresh_tokens;
pub mod revocations;
pub mod secret;
pub mod totp;
pub mod verified;

pub use codes::{CodeError, OneTimeCodes};
pub use jwt::{AccessClaims, TokenIssuer};
pub use passwords::PasswordHasher;
pub use refresh_tokens::RefreshToken;
pub use revocations::Revocations;
pub use secret::ServerSecret;
pub use totp::Totp;
