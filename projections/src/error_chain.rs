//! The one way errors are written to logs: the error and every cause
//! under it, `outer: cause: root cause`, so a log line says why (an SMTP
//! failure names the refused connection, not only "sending failed").

use std::error::Error;
use std::fmt;

/// Displays an error with its whole `source()` chain.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sending failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_is_shown_with_every_cause_under_it() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(
            Chain(&error).to_string(),
            "sending failed: connection refused"
        );
    }
}
