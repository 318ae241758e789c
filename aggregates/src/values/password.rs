//! A plain-text password that passed the policy. It never leaves the process:
//! it is hashed at the edge and only the hash reaches commands and events.

use std::fmt;

/// Length and character-class rules for new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_len: usize,
    pub max_len: usize,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 128,
            require_upper: true,
            require_lower: true,
            require_digit: true,
            require_symbol: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is too short")]
    TooShort,
    #[error("password is too long")]
    TooLong,
    #[error("password needs an upper-case letter")]
    MissingUpper,
    #[error("password needs a lower-case letter")]
    MissingLower,
    #[error("password needs a digit")]
    MissingDigit,
    #[error("password needs a symbol")]
    MissingSymbol,
    #[error("password may not contain the username")]
    ContainsUsername,
    #[error("password may not contain the email address's local part")]
    ContainsEmail,
}

impl PasswordError {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::MissingUpper => "missing_upper",
            Self::MissingLower => "missing_lower",
            Self::MissingDigit => "missing_digit",
            Self::MissingSymbol => "missing_symbol",
            Self::ContainsUsername => "contains_username",
            Self::ContainsEmail => "contains_email",
        }
    }
}

/// A password that satisfies the policy. `Debug` is redacted so it cannot
/// end up in a log by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        let len = raw.chars().count();
        if len < policy.min_len {
            return Err(PasswordError::TooShort);
        }
        if len > policy.max_len {
            return Err(PasswordError::TooLong);
        }
        let has = |pred: fn(char) -> bool| raw.chars().any(pred);
        if policy.require_upper && !has(char::is_uppercase) {
            return Err(PasswordError::MissingUpper);
        }
        if policy.require_lower && !has(char::is_lowercase) {
            return Err(PasswordError::MissingLower);
        }
        if policy.require_digit && !has(|c| c.is_ascii_digit()) {
            return Err(PasswordError::MissingDigit);
        }
        if policy.require_symbol && !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            return Err(PasswordError::MissingSymbol);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Refuses a password that holds the account's username or its email
    /// address's local part, ignoring case (OWASP: no context-specific
    /// words). Parts shorter than 3 characters are not checked: they would
    /// refuse too much and guard nothing.
    pub fn check_personal(&self, username: &str, email: &str) -> Result<(), PasswordError> {
        let password = self.0.to_lowercase();
        let holds =
            |part: &str| part.chars().count() >= 3 && password.contains(&part.to_lowercase());
        if holds(username) {
            return Err(PasswordError::ContainsUsername);
        }
        let local = email.split('@').next().unwrap_or_default();
        if holds(local) {
            return Err(PasswordError::ContainsEmail);
        }
        Ok(())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_holding_the_username_or_the_email_local_part_is_refused() {
        let p = PasswordPolicy::default();
        let password = Password::parse("Xalice-Secret-9!", &p).unwrap();
        assert_eq!(
            password.check_personal("ALICE", "a@example.com"),
            Err(PasswordError::ContainsUsername)
        );
        assert_eq!(
            password.check_personal("bob", "Alice@example.com"),
            Err(PasswordError::ContainsEmail)
        );
        assert_eq!(password.check_personal("bob", "bo@example.com"), Ok(()));
    }

    #[test]
    fn password_policy_requires_every_character_class() {
        let p = PasswordPolicy::default();
        assert_eq!(
            Password::parse("Sh0rt!", &p).unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse("lowercase1!", &p).unwrap_err(),
            PasswordError::MissingUpper
        );
        assert_eq!(
            Password::parse("UPPERCASE1!", &p).unwrap_err(),
            PasswordError::MissingLower
        );
        assert_eq!(
            Password::parse("NoDigits!!", &p).unwrap_err(),
            PasswordError::MissingDigit
        );
        assert_eq!(
            Password::parse("NoSymbols11", &p).unwrap_err(),
            PasswordError::MissingSymbol
        );
        assert_eq!(
            Password::parse(&format!("Aa1!{}", "x".repeat(125)), &p).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(Password::parse("Correct-Horse-1", &p).is_ok());
    }

    #[test]
    fn password_debug_output_is_redacted() {
        let p = Password::parse("Correct-Horse-1", &PasswordPolicy::default()).unwrap();
        assert!(!format!("{p:?}").contains("Horse"));
    }
}
