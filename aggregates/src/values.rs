//! Value objects: parsed once at the edge, trusted everywhere after.
//!
//! Each type has a private field and a `parse` constructor, so a `Username`,
//! `Email` or `Password` in hand has already passed the rules.

mod email;
mod password;
mod token_hash;
mod username;

pub use email::{Email, EmailError};
pub use password::{Password, PasswordError, PasswordPolicy};
pub use token_hash::TokenHash;
pub use username::{Username, UsernameError, UsernamePolicy};
