//! The `cursor` of admin search pages: the sort key of the last account a
//! page showed, opaque to clients (base64url), so the next page starts
//! right after it whatever was added or removed meanwhile.
//!
//! A time-ordered key is `t:<RFC 3339 time>:<account id>`, a text key
//! (email or username) is `s:<text>`. A cursor that does not decode, or
//! that belongs to another shape of search, is refused as invalid rather
//! than read from the start.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::directory::{After, Key};

pub fn encode(after: &After) -> String {
    let raw = match after {
        After::At(at, id) => format!("t:{}:{id}", at.to_rfc3339()),
        After::Text(text) => format!("s:{text}"),
    };
    URL_SAFE_NO_PAD.encode(raw)
}

/// The cursor `raw` for a search by `key`; `None` if it is not a cursor of
/// that search.
pub fn decode(raw: &str, key: &Key) -> Option<After> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let after = if let Some(rest) = text.strip_prefix("t:") {
        // The id is the last 36 characters; the time may contain colons.
        let (at, id) = rest.rsplit_once(':')?;
        let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
        After::At(at, Uuid::parse_str(id).ok()?)
    } else {
        After::Text(text.strip_prefix("s:")?.to_owned())
    };
    // Everyone (or a status, locked ones included) pages by a time; a
    // prefix search by its text.
    match (&after, matches!(key, Key::Created)) {
        (After::At(..), true) | (After::Text(_), false) => Some(after),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_key_it_was_made_from() {
        let at = After::At(Utc::now(), Uuid::now_v7());
        assert_eq!(decode(&encode(&at), &Key::Created), Some(at));
        let text = After::Text("ab:c@example.com".to_owned());
        let key = Key::Email("ab".to_owned());
        assert_eq!(decode(&encode(&text), &key), Some(text));
    }

    #[test]
    fn a_cursor_of_another_shape_or_garbage_is_refused() {
        let text = encode(&After::Text("ab".to_owned()));
        assert_eq!(decode(&text, &Key::Created), None);
        assert_eq!(decode("not base64!", &Key::Created), None);
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode("t:yesterday:x"), &Key::Created),
            None
        );
    }
}
