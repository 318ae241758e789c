//! Read models built from the event log.
//!
//! [`log`] names places in the log; [`projector`] runs each [`Projection`]
//! with its own checkpoint, written in the same transaction as its rows,
//! through the [`store`] port that each storage backend implements; the
//! remaining modules are the read models themselves, each a pure function
//! from an event to its [`Change`]s.

mod change;
pub mod db_errors;
pub mod error_chain;
mod failures;
pub mod influencer_applications;
pub mod influencer_dashboard;
pub mod log;
pub mod login_lookup;
pub mod projector;
pub mod recent;
pub mod store;
pub mod user_directory;
pub mod user_sessions;

pub use change::Change;
pub use failures::{Failure, FAILURE_COLUMNS};
pub use log::{Cursor, StoredEvent};
pub use projector::{Progress, Projection, ProjectionError, Projector, Wakes};
pub use recent::RecentLog;

/// The target of the spans that exist for traces only (see the service's
/// `telemetry::SPANS`).
pub const SPANS: &str = "identity::spans";

/// The user directory's name (its checkpoint row), which others follow.
pub const USER_DIRECTORY: &str = "user_directory";
/// The login lookup's name, which the refresh's cache follows.
pub const LOGIN_LOOKUP: &str = "login_lookup";
pub use store::{ProjectionStore, ProjectionTx};

use std::sync::Arc;

/// Every projection this service runs, by name.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(login_lookup::LoginLookup),
        Arc::new(user_directory::UserDirectory),
        Arc::new(user_sessions::UserSessions),
        Arc::new(influencer_applications::InfluencerApplications),
        Arc::new(influencer_dashboard::InfluencerDashboard),
    ]
}
