//! Collects every invalid field of a request body into one 422 answer.

use aggregates::values::{
    Currency, Email, Password, PasswordPolicy, Phone, Username, UsernamePolicy,
};

use crate::error::{AppError, FieldError};

#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn push(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// `Err(validation_failed)` if any field was invalid.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }

    /// The values `build` makes of the parsed fields, or every field error
    /// at once. Each parser above records an error whenever it answers
    /// `None`, so `build` (which uses `?` on them) only fails when an error
    /// was recorded; should it fail without one, the answer is still 422.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, AppError> {
        match (self.errors.is_empty(), build()) {
            (true, Some(value)) => Ok(value),
            _ => Err(AppError::Validation(self.errors)),
        }
    }

    pub fn required(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        match raw {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            _ => {
                self.push(field, "required", format!("{field} is required"));
                None
            }
        }
    }

    /// `raw`, required, parsed by `parse`; its error's code and message
    /// become the field's.
    fn parsed<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
        code: impl FnOnce(&E) -> &'static str,
    ) -> Option<T> {
        let raw = self.required(field, raw)?;
        parse(&raw)
            .map_err(|e| self.push(field, code(&e), e.to_string()))
            .ok()
    }

    pub fn email(&mut self, field: &str, raw: Option<&str>) -> Option<Email> {
        self.parsed(field, raw, Email::parse, |e| e.code())
    }

    pub fn phone(&mut self, field: &str, raw: Option<&str>) -> Option<Phone> {
        self.parsed(field, raw, Phone::parse, |e| e.code())
    }

    /// Exactly one of `email` and `phone`, as the account's identifier.
    pub fn email_or_phone(
        &mut self,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Option<crate::accounts::Identifier> {
        use crate::accounts::Identifier;
        match (email, phone) {
            (Some(_), Some(_)) => {
                self.push("phone", "conflict", "give email or phone, not both");
                None
            }
            (None, Some(_)) => self.phone("phone", phone).map(Identifier::Phone),
            (Some(_), None) => self.email("email", email).map(Identifier::Email),
            (None, None) => {
                self.push("email", "one_of_required", "give email or phone");
                None
            }
        }
    }

    pub fn currency(&mut self, field: &str, raw: Option<&str>) -> Option<Currency> {
        self.parsed(field, raw, Currency::parse, |e| e.code())
    }

    pub fn username(
        &mut self,
        field: &str,
        raw: Option<&str>,
        policy: &UsernamePolicy,
    ) -> Option<Username> {
        self.parsed(field, raw, |raw| Username::parse(raw, policy), |e| e.code())
    }

    pub fn password(
        &mut self,
        field: &str,
        raw: Option<&str>,
        policy: &PasswordPolicy,
    ) -> Option<Password> {
        self.parsed(field, raw, |raw| Password::parse(raw, policy), |e| e.code())
    }

    /// `page` (1-based, default 1) and `per_page` (1-100, default 20).
    pub fn page(&mut self, page: Option<u32>, per_page: Option<u32>) -> (u32, u32) {
        let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(20));
        if page == 0 {
            self.push("page", "out_of_range", "pages start at 1");
        }
        if !(1..=100).contains(&per_page) {
            self.push("per_page", "out_of_range", "between 1 and 100");
        }
        (page, per_page)
    }

    /// A search prefix: trimmed, and no filter at all when blank.
    pub fn search_prefix(raw: Option<String>) -> Option<String> {
        raw.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty())
    }

    /// A one-time code: exactly six digits.
    pub fn code(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        let raw = self.required(field, raw)?;
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Some(code.to_owned())
        } else {
            self.push(field, "invalid_format", "the code is six digits");
            None
        }
    }
}
