//! The profile a person keeps: a display name and a locale.

use aggregates::values::{DisplayName, Locale};
use aggregates::UserCommand;
use chrono::Utc;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

/// `PATCH /me`: sets what is given, keeps the rest; `ProfileUpdated`
/// carries only what changed (nothing changed: no event). The read model
/// shows it before the answer (read-your-writes).
pub async fn update_profile(
    state: &AppState,
    user_id: Uuid,
    display_name: Option<DisplayName>,
    locale: Option<Locale>,
    metadata: Metadata,
) -> Result<(), AppError> {
    let command = UserCommand::UpdateProfile {
        display_name,
        locale,
        at: Utc::now(),
    };
    super::on_account(state, user_id, command, &metadata).await?;
    Ok(())
}
