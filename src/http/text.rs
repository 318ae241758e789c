//! Text that the service refuses wherever it arrives: a NUL character.
//!
//! PostgreSQL cannot store U+0000 in `text` or `jsonb`, so a NUL that got
//! past the edge failed deep inside a statement as a 500. No field of this
//! API has a use for one; the extractors refuse it up front and name the
//! field (a JSON path such as `channels[0].url`, or a query parameter).

use serde_json::Value;

use crate::error::{AppError, FieldError};

/// The path of the first string (or key) in `value` holding a NUL.
pub fn nul_in_json(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then(String::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            nul_in_json(item).map(|inner| format!("[{i}]{}", dotted(&inner)))
        }),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(key.replace('\0', "\\u0000"));
            }
            nul_in_json(item).map(|inner| format!("{key}{}", dotted(&inner)))
        }),
        _ => None,
    }
}

fn dotted(inner: &str) -> String {
    match inner.chars().next() {
        None | Some('[') => inner.to_owned(),
        Some(_) => format!(".{inner}"),
    }
}

/// The name of the first query parameter whose name or value holds a NUL.
pub fn nul_in_query(raw: &str) -> Option<String> {
    form_urlencoded::parse(raw.as_bytes())
        .find(|(key, value)| key.contains('\0') || value.contains('\0'))
        .map(|(key, _)| key.replace('\0', "\\u0000"))
}

/// Whether a request path holds a percent-encoded NUL.
pub fn nul_in_path(path: &str) -> bool {
    path.contains("%00")
}

pub fn nul_problem(field: &str) -> AppError {
    let field = if field.is_empty() { "body" } else { field };
    AppError::Validation(vec![FieldError::new(
        field,
        "invalid_character",
        "text may not contain the NUL character (U+0000)",
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_json_names_the_nested_field() {
        let value = serde_json::json!({"a": "ok", "channels": [{"url": "x"}, {"url": "b\u{0}"}]});
        assert_eq!(nul_in_json(&value).as_deref(), Some("channels[1].url"));
        assert_eq!(nul_in_json(&serde_json::json!({"a": ["fine", 1]})), None);
    }

    #[test]
    fn nul_in_query_names_the_parameter() {
        assert_eq!(nul_in_query("page=1&query=a%00b").as_deref(), Some("query"));
        assert_eq!(nul_in_query("query=ab"), None);
    }
}
