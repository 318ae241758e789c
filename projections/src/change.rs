//! What projections ask the store to write: one enum per read model,
//! gathered here so a backend's writer handles every change or does not
//! compile.

use crate::influencer_applications::ApplicationChange;
use crate::influencer_dashboard::DashboardChange;
use crate::login_lookup::LoginChange;
use crate::user_directory::DirectoryChange;
use crate::user_sessions::SessionChange;

/// One write to one read model.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Login(LoginChange),
    Directory(DirectoryChange),
    Session(SessionChange),
    Application(ApplicationChange),
    Dashboard(DashboardChange),
}
