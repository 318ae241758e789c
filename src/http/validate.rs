//! Collects every invalid field of a request body into one 422 answer.

use aggregates::values::{Email, Password, PasswordPolicy, Username, UsernamePolicy};

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

    pub fn required(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        match raw {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            _ => {
                self.push(field, "required", format!("{field} is required"));
                None
            }
        }
    }

    pub fn email(&mut self, field: &str, raw: Option<&str>) -> Option<Email> {
        let raw = self.required(field, raw)?;
        Email::parse(&raw)
            .map_err(|e| self.push(field, e.code(), e.to_string()))
            .ok()
    }

    pub fn username(
        &mut self,
        field: &str,
        raw: Option<&str>,
        policy: &UsernamePolicy,
    ) -> Option<Username> {
        let raw = self.required(field, raw)?;
        Username::parse(&raw, policy)
            .map_err(|e| self.push(field, e.code(), e.to_string()))
            .ok()
    }

    pub fn password(
        &mut self,
        field: &str,
        raw: Option<&str>,
        policy: &PasswordPolicy,
    ) -> Option<Password> {
        let raw = self.required(field, raw)?;
        Password::parse(&raw, policy)
            .map_err(|e| self.push(field, e.code(), e.to_string()))
            .ok()
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
