//! Which database errors are the database's state rather than the
//! statement's fault: one rule for the projector's retries and the
//! service's 503 answers.

/// Whether trying again later may succeed with nothing changed: the
/// database was unreachable, short of resources or shutting down, or the
/// transaction lost a race (serialization failure, deadlock).
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            // Classes 08 (connection), 53 (resources), 57 (operator
            // intervention), and the two race codes of class 40.
            let code = db.code().unwrap_or_default();
            matches!(code.as_ref(), "40001" | "40P01")
                || ["08", "53", "57"].iter().any(|c| code.starts_with(c))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}
