//! `IDENTITY_DATABASE_URL`: which storage backend, and where.
//!
//! The scheme decides: `postgres://` (or `postgresql://`) for PostgreSQL,
//! `sqlite://PATH` for a SQLite file. Anything else is refused at start-up
//! in one line: taking an unknown URL as PostgreSQL once created a
//! PostgreSQL database named after a SQLite file's path and served from it.

use std::path::PathBuf;

/// A database URL whose backend is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The URL as given (sqlx parses the rest).
    Postgres(String),
    /// The database file (`sqlite:///abs/path.db`, `sqlite://rel/path.db`).
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Recognises the backend; the error says what was wrong, for one line
    /// naming the setting.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(format!(
                "{raw:?} is not a URL; use postgres://... or sqlite://PATH"
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres(raw.to_owned())),
            "sqlite" => {
                // Query options (`?mode=...`) are ours to choose, not the URL's.
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(
                        "sqlite:// needs a file path, e.g. sqlite://data/identity.db".to_owned(),
                    );
                }
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
            other => Err(format!(
                "unsupported scheme {other:?}; use postgres://... or sqlite://PATH"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_kept_as_given() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/identity?sslmode=disable",
            "postgresql://u:p@db/identity",
        ] {
            assert_eq!(
                DatabaseUrl::parse(url),
                Ok(DatabaseUrl::Postgres(url.to_owned()))
            );
        }
    }

    #[test]
    fn sqlite_urls_name_the_file() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/identity/identity.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from(
                "/var/lib/identity/identity.db"
            )))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/identity.db?mode=rwc"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/identity.db")))
        );
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        for url in [
            "mysql://db/identity",
            "identity.db",
            "sqlite://",
            "http://x",
        ] {
            assert!(DatabaseUrl::parse(url).is_err(), "{url}");
        }
    }
}
