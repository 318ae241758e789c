//! Writes the projections' changes to the read models on PostgreSQL.

use projections::influencer_applications::ApplicationChange;
use projections::influencer_dashboard::DashboardChange;
use projections::login_lookup::LoginChange;
use projections::user_directory::DirectoryChange;
use projections::user_sessions::SessionChange;
use projections::Change;
use sqlx::PgConnection;

/// Adds `$2` to a sorted, duplicate-free role array.
const ADD_ROLE: &str =
    "roles = ARRAY(SELECT DISTINCT r FROM unnest(array_append(roles, $2)) r ORDER BY r)";
const REMOVE_ROLE: &str = "roles = array_remove(roles, $2)";

pub async fn apply(conn: &mut PgConnection, change: &Change) -> Result<(), sqlx::Error> {
    match change {
        Change::Login(change) => login(conn, change).await,
        Change::Directory(change) => directory(conn, change).await,
        Change::Session(change) => session(conn, change).await,
        Change::Application(change) => application(conn, change).await,
        Change::Dashboard(change) => dashboard(conn, change).await,
    }
}

async fn login(conn: &mut PgConnection, change: &LoginChange) -> Result<(), sqlx::Error> {
    let query = match change {
        LoginChange::Registered {
            user_id,
            email,
            username_normalized,
        } => sqlx::query(
            "INSERT INTO login_lookup (user_id, email, username_normalized, email_verified, roles, status)
             VALUES ($1, $2, $3, false, ARRAY['user'], 'active')",
        )
        .bind(user_id)
        .bind(email)
        .bind(username_normalized),
        LoginChange::EmailVerified { user_id } => {
            sqlx::query("UPDATE login_lookup SET email_verified = true WHERE user_id = $1")
                .bind(user_id)
        }
        LoginChange::RoleAdded { user_id, role } => {
            return set_login(conn, *user_id, ADD_ROLE, role).await
        }
        LoginChange::RoleRemoved { user_id, role } => {
            return set_login(conn, *user_id, REMOVE_ROLE, role).await
        }
        LoginChange::Status { user_id, status } => {
            return set_login(conn, *user_id, "status = $2", status).await
        }
        LoginChange::AdminLock { user_id, until } => {
            sqlx::query("UPDATE login_lookup SET admin_locked_until = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(until)
        }
    };
    query.execute(conn).await.map(|_| ())
}

async fn set_login(
    conn: &mut PgConnection,
    user_id: uuid::Uuid,
    assignment: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE login_lookup SET {assignment} WHERE user_id = $1"
    ))
    .bind(user_id)
    .bind(value)
    .execute(conn)
    .await
    .map(|_| ())
}

async fn directory(conn: &mut PgConnection, change: &DirectoryChange) -> Result<(), sqlx::Error> {
    match change {
        DirectoryChange::Registered {
            user_id,
            username,
            email,
            at,
        } => sqlx::query(
            "INSERT INTO user_directory (user_id, username, email, email_verified, roles, status, created_at, updated_at)
             VALUES ($1, $2, $3, false, ARRAY['user'], 'active', $4, $4)",
        )
        .bind(user_id)
        .bind(username)
        .bind(email)
        .bind(at)
        .execute(conn)
        .await
        .map(|_| ()),
        DirectoryChange::EmailVerified { user_id, at } => {
            set_directory(conn, *user_id, "email_verified = $2", true, at).await
        }
        DirectoryChange::LockedUntil { user_id, until, at } => {
            set_directory(conn, *user_id, "locked_until = $2", until, at).await
        }
        DirectoryChange::RoleAdded { user_id, role, at } => {
            set_directory(conn, *user_id, ADD_ROLE, role, at).await
        }
        DirectoryChange::RoleRemoved { user_id, role, at } => {
            set_directory(conn, *user_id, REMOVE_ROLE, role, at).await
        }
        DirectoryChange::Status {
            user_id,
            status,
            at,
        } => set_directory(conn, *user_id, "status = $2", status, at).await,
    }
}

/// Sets `assignment` (which may use `$2`) on one row and stamps `updated_at`.
async fn set_directory<T>(
    conn: &mut PgConnection,
    user_id: uuid::Uuid,
    assignment: &str,
    value: T,
    at: &chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    sqlx::query(&format!(
        "UPDATE user_directory SET {assignment}, updated_at = $3 WHERE user_id = $1"
    ))
    .bind(user_id)
    .bind(value)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}

async fn session(conn: &mut PgConnection, change: &SessionChange) -> Result<(), sqlx::Error> {
    let query = match change {
        SessionChange::Started {
            session_id,
            user_id,
            started_at,
            expires_at,
            user_agent,
            ip,
        } => sqlx::query(
            "INSERT INTO user_sessions (session_id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(started_at)
        .bind(expires_at)
        .bind(user_agent)
        .bind(ip),
        SessionChange::Used {
            session_id,
            at,
            expires_at,
        } => sqlx::query(
            "UPDATE user_sessions SET last_used_at = $2, expires_at = $3 WHERE session_id = $1",
        )
        .bind(session_id)
        .bind(at)
        .bind(expires_at),
        SessionChange::Revoked { session_id, at } => {
            sqlx::query("UPDATE user_sessions SET revoked_at = $2 WHERE session_id = $1")
                .bind(session_id)
                .bind(at)
        }
    };
    query.execute(conn).await.map(|_| ())
}

async fn application(
    conn: &mut PgConnection,
    change: &ApplicationChange,
) -> Result<(), sqlx::Error> {
    let query = match change {
        ApplicationChange::Submitted {
            id,
            user_id,
            display_name,
            channels,
            pitch,
            at,
        } => sqlx::query(
            "INSERT INTO influencer_applications
                 (id, user_id, display_name, channels, pitch, status, submitted_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
        )
        .bind(id)
        .bind(user_id)
        .bind(display_name)
        .bind(channels)
        .bind(pitch)
        .bind(at),
        ApplicationChange::Decided {
            user_id,
            status,
            at,
            by,
            referral_code,
            reason,
        } => sqlx::query(
            "UPDATE influencer_applications
                SET status = $2, decided_at = $3, decided_by = $4,
                    referral_code = COALESCE($5, referral_code), reason = COALESCE($6, reason)
              WHERE user_id = $1 AND status = 'pending'",
        )
        .bind(user_id)
        .bind(status)
        .bind(at)
        .bind(by)
        .bind(referral_code)
        .bind(reason),
    };
    query.execute(conn).await.map(|_| ())
}

async fn dashboard(conn: &mut PgConnection, change: &DashboardChange) -> Result<(), sqlx::Error> {
    let query = match change {
        DashboardChange::ProfileSubmitted {
            influencer_id,
            display_name,
        } => sqlx::query(
            "INSERT INTO influencer_profiles (influencer_id, display_name, status)
             VALUES ($1, $2, 'pending')
             ON CONFLICT (influencer_id)
             DO UPDATE SET display_name = EXCLUDED.display_name, status = 'pending'",
        )
        .bind(influencer_id)
        .bind(display_name),
        DashboardChange::ProfileApproved {
            influencer_id,
            commission_rate_bps,
            at,
        } => sqlx::query(
            "UPDATE influencer_profiles
                SET status = 'active', commission_rate_bps = $2, approved_at = $3
              WHERE influencer_id = $1",
        )
        .bind(influencer_id)
        .bind(commission_rate_bps)
        .bind(at),
        DashboardChange::CommissionRate {
            influencer_id,
            commission_rate_bps,
        } => sqlx::query(
            "UPDATE influencer_profiles SET commission_rate_bps = $2 WHERE influencer_id = $1",
        )
        .bind(influencer_id)
        .bind(commission_rate_bps),
        DashboardChange::ProfileStatus {
            influencer_id,
            status,
        } => sqlx::query("UPDATE influencer_profiles SET status = $2 WHERE influencer_id = $1")
            .bind(influencer_id)
            .bind(status),
        DashboardChange::CodeClaimed {
            influencer_id,
            normalized,
            code,
            kind,
            at,
        } => sqlx::query(
            "INSERT INTO influencer_codes (influencer_id, normalized, code, kind, active, claimed_at)
             VALUES ($1, $2, $3, $4, true, $5)",
        )
        .bind(influencer_id)
        .bind(normalized)
        .bind(code)
        .bind(kind)
        .bind(at),
        DashboardChange::CodeDeactivated {
            influencer_id,
            normalized,
        } => sqlx::query(
            "UPDATE influencer_codes SET active = false
              WHERE influencer_id = $1 AND normalized = $2",
        )
        .bind(influencer_id)
        .bind(normalized),
        DashboardChange::Referred {
            user_id,
            influencer_id,
            normalized,
            signed_up_at,
        } => sqlx::query(
            "INSERT INTO influencer_referrals (user_id, influencer_id, normalized, signed_up_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(influencer_id)
        .bind(normalized)
        .bind(signed_up_at),
        DashboardChange::ReferralVerified { user_id, at } => {
            sqlx::query("UPDATE influencer_referrals SET verified_at = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(at)
        }
        DashboardChange::Converted {
            external_id,
            influencer_id,
            user_id,
            normalized,
            currency,
            amount_minor,
            commission_minor,
            occurred_at,
        } => sqlx::query(
            "INSERT INTO influencer_conversions (external_id, influencer_id, user_id, normalized,
                 currency, amount_minor, commission_minor, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(external_id)
        .bind(influencer_id)
        .bind(user_id)
        .bind(normalized)
        .bind(currency)
        .bind(amount_minor)
        .bind(commission_minor)
        .bind(occurred_at),
        DashboardChange::Refunded { external_id, at } => {
            sqlx::query("UPDATE influencer_conversions SET refunded_at = $2 WHERE external_id = $1")
                .bind(external_id)
                .bind(at)
        }
        DashboardChange::PendingReleased {
            influencer_id,
            currency,
            through,
        } => sqlx::query(
            "DELETE FROM influencer_pending
              WHERE influencer_id = $1 AND currency = $2 AND release_on <= $3",
        )
        .bind(influencer_id)
        .bind(currency)
        .bind(through),
        DashboardChange::PendingAdded {
            influencer_id,
            currency,
            release_on,
            amount,
        } => sqlx::query(
            "INSERT INTO influencer_pending (influencer_id, currency, release_on, amount)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (influencer_id, currency, release_on)
             DO UPDATE SET amount = influencer_pending.amount + EXCLUDED.amount",
        )
        .bind(influencer_id)
        .bind(currency)
        .bind(release_on)
        .bind(amount),
        DashboardChange::Balance {
            influencer_id,
            currency,
            available,
            paid,
        } => sqlx::query(
            "INSERT INTO influencer_balances (influencer_id, currency, available, paid)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (influencer_id, currency)
             DO UPDATE SET available = influencer_balances.available + EXCLUDED.available,
                           paid = influencer_balances.paid + EXCLUDED.paid",
        )
        .bind(influencer_id)
        .bind(currency)
        .bind(available)
        .bind(paid),
    };
    query.execute(conn).await.map(|_| ())
}
