//! The few SQL fragments whose spelling differs between the backends, for
//! read queries that are otherwise written once (see `on_either!`).

use super::Database;

/// Function names and expressions of one backend's dialect.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Aggregates `(key, value)` rows into one JSON object.
    pub object_agg: &'static str,
    /// Builds a JSON object from alternating keys and values.
    pub build_object: &'static str,
    /// The empty JSON object.
    pub empty_object: &'static str,
    /// The UTC calendar day of a time column, as `{}` replaced by the column.
    utc_day: &'static str,
}

impl Dialect {
    /// The UTC calendar day of the time column `column`.
    pub fn utc_day(&self, column: &str) -> String {
        self.utc_day.replace("{}", column)
    }
}

const POSTGRES: Dialect = Dialect {
    object_agg: "jsonb_object_agg",
    build_object: "jsonb_build_object",
    empty_object: "'{}'::jsonb",
    utc_day: "({} AT TIME ZONE 'UTC')::date",
};

// Times are stored as RFC 3339 text in UTC: the first ten characters are
// the UTC day, and `date()` reads them.
const SQLITE: Dialect = Dialect {
    object_agg: "json_group_object",
    build_object: "json_object",
    empty_object: "json('{}')",
    utc_day: "date({})",
};

impl Database {
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) => POSTGRES,
            Self::Sqlite(_) => SQLITE,
        }
    }
}
