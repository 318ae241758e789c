//! Writes the projections' changes to the read models, on either backend.
//!
//! The statements are the same on both (sqlx's SQLite driver takes `$N`
//! parameters too), so each is written once and run on the connection of
//! the batch's transaction. The one difference is the role set: a sorted
//! `text[]` on PostgreSQL, a sorted JSON array on SQLite.

use projections::influencer_applications::ApplicationChange;
use projections::influencer_dashboard::DashboardChange;
use projections::login_lookup::LoginChange;
use projections::user_directory::DirectoryChange;
use projections::user_sessions::SessionChange;
use projections::Change;
use sqlx::{PgConnection, SqliteConnection};

mod batch;
pub use batch::apply_all;

/// The connection of one batch transaction.
pub enum Writer<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// Runs one statement with its parameters on the writer's connection.
macro_rules! exec {
    ($writer:expr, $sql:expr $(, $bind:expr)* $(,)?) => {
        match $writer {
            Writer::Postgres(conn) => {
                sqlx::query($sql)$(.bind($bind))*.execute(&mut **conn).await.map(|_| ())
            }
            Writer::Sqlite(conn) => {
                sqlx::query($sql)$(.bind($bind))*.execute(&mut **conn).await.map(|_| ())
            }
        }
    };
}

impl Writer<'_> {
    /// The role set of a new account.
    fn initial_roles(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "ARRAY['user']",
            Self::Sqlite(_) => r#"'["user"]'"#,
        }
    }

    /// Sets `roles` to itself with `$2` added (sorted, without duplicates).
    fn add_role(&self) -> &'static str {
        match self {
            Self::Postgres(_) => {
                "roles = ARRAY(SELECT DISTINCT r FROM unnest(array_append(roles, $2)) r ORDER BY r)"
            }
            Self::Sqlite(_) => {
                "roles = (SELECT json_group_array(value) FROM
                    (SELECT value FROM json_each(roles) UNION SELECT $2 ORDER BY 1))"
            }
        }
    }

    /// Sets `roles` to itself without `$2`.
    fn remove_role(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "roles = array_remove(roles, $2)",
            Self::Sqlite(_) => {
                "roles = (SELECT json_group_array(value) FROM
                    (SELECT value FROM json_each(roles) WHERE value <> $2 ORDER BY 1))"
            }
        }
    }
}

pub async fn apply(writer: &mut Writer<'_>, change: &Change) -> Result<(), sqlx::Error> {
    match change {
        Change::Login(change) => login(writer, change).await,
        Change::Directory(change) => directory(writer, change).await,
        Change::Session(change) => session(writer, change).await,
        Change::Application(change) => application(writer, change).await,
        Change::Dashboard(change) => dashboard(writer, change).await,
    }
}

async fn login(w: &mut Writer<'_>, change: &LoginChange) -> Result<(), sqlx::Error> {
    let set = |assignment: &str| format!("UPDATE login_lookup SET {assignment} WHERE user_id = $1");
    match change {
        LoginChange::Registered {
            user_id,
            email,
            username_normalized,
        } => {
            let sql = format!(
                "INSERT INTO login_lookup (user_id, email, username_normalized, email_verified, roles, status)
                 VALUES ($1, $2, $3, false, {}, 'active')",
                w.initial_roles()
            );
            exec!(w, &sql, user_id, email, username_normalized)
        }
        LoginChange::EmailVerified { user_id } => {
            exec!(w, &set("email_verified = true"), user_id)
        }
        LoginChange::RoleAdded { user_id, role } => {
            let sql = set(w.add_role());
            exec!(w, &sql, user_id, role)
        }
        LoginChange::RoleRemoved { user_id, role } => {
            let sql = set(w.remove_role());
            exec!(w, &sql, user_id, role)
        }
        LoginChange::Status { user_id, status } => {
            exec!(w, &set("status = $2"), user_id, *status)
        }
        LoginChange::Phone { user_id, phone } => exec!(w, &set("phone = $2"), user_id, phone),
        LoginChange::Email { user_id, email } => {
            exec!(w, &set("email = $2, email_verified = true"), user_id, email)
        }
        LoginChange::Username {
            user_id,
            username_normalized,
        } => exec!(
            w,
            &set("username_normalized = $2"),
            user_id,
            username_normalized
        ),
        LoginChange::AdminLock { user_id, until } => {
            exec!(w, &set("admin_locked_until = $2"), user_id, until)
        }
    }
}

async fn directory(w: &mut Writer<'_>, change: &DirectoryChange) -> Result<(), sqlx::Error> {
    // Every change but the first stamps `updated_at` (`$3`).
    let set = |assignment: &str| {
        format!("UPDATE user_directory SET {assignment}, updated_at = $3 WHERE user_id = $1")
    };
    match change {
        DirectoryChange::Registered {
            user_id,
            username,
            email,
            at,
        } => {
            let sql = format!(
                "INSERT INTO user_directory (user_id, username, email, email_verified, roles, status, created_at, updated_at)
                 VALUES ($1, $2, $3, false, {}, 'active', $4, $4)",
                w.initial_roles()
            );
            exec!(w, &sql, user_id, username, email, at)
        }
        DirectoryChange::EmailVerified { user_id, at } => {
            exec!(w, &set("email_verified = $2"), user_id, true, at)
        }
        DirectoryChange::Phone {
            user_id,
            phone,
            verified,
            at,
        } => exec!(
            w,
            &set("phone = $2, phone_verified = $4"),
            user_id,
            phone,
            at,
            verified
        ),
        DirectoryChange::Profile {
            user_id,
            display_name,
            locale,
            at,
        } => exec!(
            w,
            &set("display_name = COALESCE($2, display_name), locale = COALESCE($4, locale)"),
            user_id,
            display_name,
            at,
            locale
        ),
        DirectoryChange::Email { user_id, email, at } => exec!(
            w,
            &set("email = $2, email_verified = $4"),
            user_id,
            email,
            at,
            true
        ),
        DirectoryChange::Username {
            user_id,
            username,
            at,
        } => exec!(w, &set("username = $2"), user_id, username, at),
        DirectoryChange::LockedUntil { user_id, until, at } => {
            exec!(w, &set("locked_until = $2"), user_id, until, at)
        }
        DirectoryChange::RoleAdded { user_id, role, at } => {
            let sql = set(w.add_role());
            exec!(w, &sql, user_id, role, at)
        }
        DirectoryChange::RoleRemoved { user_id, role, at } => {
            let sql = set(w.remove_role());
            exec!(w, &sql, user_id, role, at)
        }
        DirectoryChange::Status {
            user_id,
            status,
            at,
        } => exec!(w, &set("status = $2"), user_id, *status, at),
    }
}

async fn session(w: &mut Writer<'_>, change: &SessionChange) -> Result<(), sqlx::Error> {
    match change {
        SessionChange::Started {
            session_id,
            user_id,
            started_at,
            expires_at,
            user_agent,
            ip,
        } => exec!(
            w,
            "INSERT INTO user_sessions (session_id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
            session_id,
            user_id,
            started_at,
            expires_at,
            user_agent,
            ip,
        ),
        SessionChange::Used {
            session_id,
            at,
            expires_at,
        } => exec!(
            w,
            "UPDATE user_sessions SET last_used_at = $2, expires_at = $3 WHERE session_id = $1",
            session_id,
            at,
            expires_at,
        ),
        SessionChange::Revoked { session_id, at } => exec!(
            w,
            "UPDATE user_sessions SET revoked_at = $2 WHERE session_id = $1",
            session_id,
            at,
        ),
    }
}

async fn application(w: &mut Writer<'_>, change: &ApplicationChange) -> Result<(), sqlx::Error> {
    match change {
        ApplicationChange::Submitted {
            id,
            user_id,
            display_name,
            channels,
            pitch,
            at,
        } => exec!(
            w,
            "INSERT INTO influencer_applications
                 (id, user_id, display_name, channels, pitch, status, submitted_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
            id,
            user_id,
            display_name,
            channels,
            pitch,
            at,
        ),
        ApplicationChange::Decided {
            user_id,
            status,
            at,
            by,
            referral_code,
            reason,
        } => exec!(
            w,
            "UPDATE influencer_applications
                SET status = $2, decided_at = $3, decided_by = $4,
                    referral_code = COALESCE($5, referral_code), reason = COALESCE($6, reason)
              WHERE user_id = $1 AND status = 'pending'",
            user_id,
            *status,
            at,
            by,
            referral_code,
            reason,
        ),
    }
}

async fn dashboard(w: &mut Writer<'_>, change: &DashboardChange) -> Result<(), sqlx::Error> {
    use DashboardChange as C;
    // Every change named, so a new one must be given a writer.
    match change {
        C::ProfileSubmitted { .. }
        | C::ProfileApproved { .. }
        | C::CommissionRate { .. }
        | C::ProfileStatus { .. } => dashboard_profile(w, change).await,
        C::CodeClaimed { .. }
        | C::CodeDeactivated { .. }
        | C::Referred { .. }
        | C::ReferralVerified { .. } => dashboard_referrals(w, change).await,
        C::Converted { .. } | C::Refunded { .. } => dashboard_sales(w, change).await,
        C::PendingReleased { .. } | C::PendingAdded { .. } | C::Balance { .. } => {
            dashboard_money(w, change).await
        }
    }
}

/// `influencer_profiles`.
async fn dashboard_profile(
    w: &mut Writer<'_>,
    change: &DashboardChange,
) -> Result<(), sqlx::Error> {
    match change {
        DashboardChange::ProfileSubmitted {
            influencer_id,
            display_name,
        } => exec!(
            w,
            "INSERT INTO influencer_profiles (influencer_id, display_name, status)
             VALUES ($1, $2, 'pending')
             ON CONFLICT (influencer_id)
             DO UPDATE SET display_name = EXCLUDED.display_name, status = 'pending'",
            influencer_id,
            display_name,
        ),
        DashboardChange::ProfileApproved {
            influencer_id,
            commission_rate_bps,
            at,
        } => exec!(
            w,
            "UPDATE influencer_profiles
                SET status = 'active', commission_rate_bps = $2, approved_at = $3
              WHERE influencer_id = $1",
            influencer_id,
            commission_rate_bps,
            at,
        ),
        DashboardChange::CommissionRate {
            influencer_id,
            commission_rate_bps,
        } => exec!(
            w,
            "UPDATE influencer_profiles SET commission_rate_bps = $2 WHERE influencer_id = $1",
            influencer_id,
            commission_rate_bps,
        ),
        DashboardChange::ProfileStatus {
            influencer_id,
            status,
        } => exec!(
            w,
            "UPDATE influencer_profiles SET status = $2 WHERE influencer_id = $1",
            influencer_id,
            *status,
        ),
        // `dashboard` sends only the changes above here.
        _ => Ok(()),
    }
}

/// `influencer_codes` and `influencer_referrals`.
async fn dashboard_referrals(
    w: &mut Writer<'_>,
    change: &DashboardChange,
) -> Result<(), sqlx::Error> {
    match change {
        DashboardChange::CodeClaimed {
            influencer_id,
            normalized,
            code,
            kind,
            at,
        } => exec!(
            w,
            "INSERT INTO influencer_codes (influencer_id, normalized, code, kind, active, claimed_at)
             VALUES ($1, $2, $3, $4, true, $5)",
            influencer_id,
            normalized,
            code,
            *kind,
            at,
        ),
        DashboardChange::CodeDeactivated {
            influencer_id,
            normalized,
        } => exec!(
            w,
            "UPDATE influencer_codes SET active = false
              WHERE influencer_id = $1 AND normalized = $2",
            influencer_id,
            normalized,
        ),
        DashboardChange::Referred {
            user_id,
            influencer_id,
            normalized,
            signed_up_at,
        } => exec!(
            w,
            "INSERT INTO influencer_referrals (user_id, influencer_id, normalized, signed_up_at)
             VALUES ($1, $2, $3, $4)",
            user_id,
            influencer_id,
            normalized,
            signed_up_at,
        ),
        DashboardChange::ReferralVerified { user_id, at } => exec!(
            w,
            "UPDATE influencer_referrals SET verified_at = $2 WHERE user_id = $1",
            user_id,
            at,
        ),
        // `dashboard` sends only the changes above here.
        _ => Ok(()),
    }
}

/// `influencer_conversions`.
async fn dashboard_sales(w: &mut Writer<'_>, change: &DashboardChange) -> Result<(), sqlx::Error> {
    match change {
        DashboardChange::Converted {
            external_id,
            influencer_id,
            user_id,
            normalized,
            currency,
            amount_minor,
            commission_minor,
            occurred_at,
        } => exec!(
            w,
            "INSERT INTO influencer_conversions (external_id, influencer_id, user_id, normalized,
                 currency, amount_minor, commission_minor, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            external_id,
            influencer_id,
            user_id,
            normalized,
            currency,
            amount_minor,
            commission_minor,
            occurred_at,
        ),
        DashboardChange::Refunded { external_id, at } => exec!(
            w,
            "UPDATE influencer_conversions SET refunded_at = $2 WHERE external_id = $1",
            external_id,
            at,
        ),
        // `dashboard` sends only the changes above here.
        _ => Ok(()),
    }
}

/// `influencer_pending` and `influencer_balances`.
async fn dashboard_money(w: &mut Writer<'_>, change: &DashboardChange) -> Result<(), sqlx::Error> {
    match change {
        DashboardChange::PendingReleased {
            influencer_id,
            currency,
            through,
        } => exec!(
            w,
            &format!(
                "DELETE FROM influencer_pending
                  WHERE influencer_id = $1 AND currency = $2 AND {}",
                super::earnings::released_by("release_on", "$3")
            ),
            influencer_id,
            currency,
            through,
        ),
        DashboardChange::PendingAdded {
            influencer_id,
            currency,
            release_on,
            amount,
        } => exec!(
            w,
            "INSERT INTO influencer_pending (influencer_id, currency, release_on, amount)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (influencer_id, currency, release_on)
             DO UPDATE SET amount = influencer_pending.amount + EXCLUDED.amount",
            influencer_id,
            currency,
            release_on,
            amount,
        ),
        DashboardChange::Balance {
            influencer_id,
            currency,
            available,
            paid,
        } => exec!(
            w,
            "INSERT INTO influencer_balances (influencer_id, currency, available, paid)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (influencer_id, currency)
             DO UPDATE SET available = influencer_balances.available + EXCLUDED.available,
                           paid = influencer_balances.paid + EXCLUDED.paid",
            influencer_id,
            currency,
            available,
            paid,
        ),
        // `dashboard` sends only the changes above here.
        _ => Ok(()),
    }
}
