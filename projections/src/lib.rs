//! Read models built from the event log.
//!
//! [`log`] reads the log in an order that never skips a late-committing
//! append; [`projector`] runs each [`Projection`] with its own checkpoint,
//! written in the same transaction as its rows; the remaining modules are the
//! read models themselves.

pub mod db_errors;
mod failures;
pub mod influencer_applications;
pub mod influencer_dashboard;
pub mod log;
pub mod login_lookup;
pub mod projector;
pub mod user_directory;
pub mod user_sessions;

pub use failures::Failure;
pub use log::{Cursor, StoredEvent};
pub use projector::{stalled, Progress, Projection, ProjectionError, Projector};

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
