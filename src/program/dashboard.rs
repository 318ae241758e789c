//! The influencer's dashboard, read from the `influencer_dashboard`
//! projection.
//!
//! Decisions where the issue is silent: refunded conversions are not
//! counted as conversions and earn nothing; the conversion rate of a code
//! is the share of its signups that made at least one (unrefunded)
//! purchase; the daily series is by UTC day, oldest first, today last.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::earnings::{self, Scope};

/// Days in the daily series, today included.
const SERIES_DAYS: i32 = 90;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeStats {
    pub code: String,
    /// `generated` or `vanity`.
    pub kind: String,
    pub active: bool,
    pub signups: i64,
    pub verified_signups: i64,
    pub conversions: i64,
    /// Converted signups / signups, 0 without signups.
    pub conversion_rate: f64,
    /// Commission per currency, in minor units.
    pub earnings: BTreeMap<String, i64>,
}

/// One currency's money, in minor units, as of today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceRow {
    pub pending: i64,
    pub available: i64,
    pub paid: i64,
}

impl From<earnings::Balance> for BalanceRow {
    fn from(b: earnings::Balance) -> Self {
        Self {
            pending: b.pending,
            available: b.available,
            paid: b.paid,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Day {
    pub day: NaiveDate,
    pub signups: i64,
    pub conversions: i64,
    /// Commission per currency earned by that day's conversions.
    pub earnings: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub influencer_id: Uuid,
    pub codes: Vec<CodeStats>,
    pub balances: BTreeMap<String, BalanceRow>,
    pub daily: Vec<Day>,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    normalized: String,
    code: String,
    kind: String,
    active: bool,
    signups: i64,
    verified_signups: i64,
    conversions: i64,
    converted: i64,
}

pub async fn me(state: &AppState, id: Uuid) -> Result<Dashboard, AppError> {
    let today = state.config.program_clock.now().date_naive();
    let codes = code_stats(state, id).await?;
    let balances = earnings::balances(&state.db, Scope::Influencer(id), today).await?;
    let daily = daily(state, id, today).await?;
    Ok(Dashboard {
        influencer_id: id,
        codes,
        balances: balances
            .into_iter()
            .map(|b| (b.currency.clone(), BalanceRow::from(b)))
            .collect(),
        daily,
    })
}

/// Each of the influencer's codes with its signups, conversions and
/// earnings per currency.
async fn code_stats(state: &AppState, id: Uuid) -> Result<Vec<CodeStats>, AppError> {
    let codes: Vec<CodeRow> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(
            "SELECT c.normalized, c.code, c.kind, c.active,
            (SELECT count(*) FROM influencer_referrals r
              WHERE r.influencer_id = c.influencer_id AND r.normalized = c.normalized) AS signups,
            (SELECT count(*) FROM influencer_referrals r
              WHERE r.influencer_id = c.influencer_id AND r.normalized = c.normalized
                AND r.verified_at IS NOT NULL) AS verified_signups,
            (SELECT count(*) FROM influencer_conversions v
              WHERE v.influencer_id = c.influencer_id AND v.normalized = c.normalized
                AND v.refunded_at IS NULL) AS conversions,
            (SELECT count(DISTINCT v.user_id) FROM influencer_conversions v
              WHERE v.influencer_id = c.influencer_id AND v.normalized = c.normalized
                AND v.refunded_at IS NULL) AS converted
           FROM influencer_codes c WHERE c.influencer_id = $1
          ORDER BY c.claimed_at, c.normalized",
        )
        .bind(id)
        .fetch_all(pool)
    .await
    })?;
    let earnings: Vec<(String, String, i64)> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(
            "SELECT normalized, currency, CAST(sum(commission_minor) AS BIGINT) FROM influencer_conversions
              WHERE influencer_id = $1 AND refunded_at IS NULL GROUP BY 1, 2",
        )
        .bind(id)
        .fetch_all(pool)
    .await
    })?;
    Ok(codes
        .into_iter()
        .map(|row| CodeStats {
            earnings: earnings
                .iter()
                .filter(|(code, _, _)| *code == row.normalized)
                .map(|(_, currency, total)| (currency.clone(), *total))
                .collect(),
            conversion_rate: if row.signups == 0 {
                0.0
            } else {
                // Counts far below 2^52: exact as f64.
                row.converted as f64 / row.signups as f64
            },
            code: row.code,
            kind: row.kind,
            active: row.active,
            signups: row.signups,
            verified_signups: row.verified_signups,
            conversions: row.conversions,
        })
        .collect())
}

/// The last [`SERIES_DAYS`] UTC days up to `today`, oldest first: signups,
/// conversions and commission per currency, counted per day in the
/// database and laid out (with the empty days) here.
async fn daily(state: &AppState, id: Uuid, today: NaiveDate) -> Result<Vec<Day>, AppError> {
    let first = today - chrono::Days::new(u64::from(SERIES_DAYS.unsigned_abs()) - 1);
    let since = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let dialect = state.db.dialect();
    let signups_sql = format!(
        "SELECT {day} AS day, count(*) FROM influencer_referrals
          WHERE influencer_id = $1 AND signed_up_at >= $2 GROUP BY 1",
        day = dialect.utc_day("signed_up_at")
    );
    let signups: Vec<(NaiveDate, i64)> = crate::store::on_either!(&state.db, pool => {
        sqlx::query_as(&signups_sql).bind(id).bind(since).fetch_all(pool).await
    })?;
    let conversions_sql = format!(
        "SELECT {day} AS day, currency, count(*), CAST(sum(commission_minor) AS BIGINT)
           FROM influencer_conversions
          WHERE influencer_id = $1 AND refunded_at IS NULL AND occurred_at >= $2
          GROUP BY 1, 2",
        day = dialect.utc_day("occurred_at")
    );
    let conversions: Vec<(NaiveDate, String, i64, i64)> = crate::store::on_either!(&state.db, pool => {
        sqlx::query_as(&conversions_sql).bind(id).bind(since).fetch_all(pool).await
    })?;
    Ok(first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| {
            let of_day = || conversions.iter().filter(move |c| c.0 == day);
            Day {
                day,
                signups: signups.iter().filter(|s| s.0 == day).map(|s| s.1).sum(),
                conversions: of_day().map(|c| c.2).sum(),
                earnings: of_day()
                    .map(|c| (c.1.clone(), serde_json::Value::from(c.3)))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
            }
        })
        .collect())
}

/// One attributed user, as their influencer may see them.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReferredUser {
    /// First character and domain only (`a***@example.com`): the influencer
    /// recognises their audience without learning addresses.
    pub email: String,
    pub code: String,
    pub signed_up_at: chrono::DateTime<Utc>,
    pub verified: bool,
    /// Made at least one purchase that was not refunded.
    pub converted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferralPage {
    pub items: Vec<ReferredUser>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

/// Masks all of the local part but its first character.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// The influencer's referred users, newest first. The email comes from
/// the `user_directory` read model.
pub async fn referrals(
    state: &AppState,
    id: Uuid,
    page: u32,
    per_page: u32,
) -> Result<ReferralPage, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: ReferredUser,
        total: i64,
    }
    let rows: Vec<Row> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(
            "SELECT COALESCE(u.email, '') AS email, COALESCE(c.code, r.normalized) AS code,
                r.signed_up_at, r.verified_at IS NOT NULL AS verified,
                EXISTS (SELECT 1 FROM influencer_conversions v
                         WHERE v.user_id = r.user_id AND v.refunded_at IS NULL) AS converted,
                count(*) OVER () AS total
           FROM influencer_referrals r
           LEFT JOIN user_directory u ON u.user_id = r.user_id
           LEFT JOIN influencer_codes c
                  ON c.influencer_id = r.influencer_id AND c.normalized = r.normalized
          WHERE r.influencer_id = $1
          ORDER BY r.signed_up_at DESC, r.user_id LIMIT $2 OFFSET $3",
        )
        .bind(id)
        .bind(i64::from(per_page))
        .bind(i64::from(page.saturating_sub(1)) * i64::from(per_page))
        .fetch_all(pool)
    .await
    })?;
    Ok(ReferralPage {
        total: rows.first().map_or(0, |r| r.total),
        items: rows
            .into_iter()
            .map(|r| ReferredUser {
                email: mask_email(&r.user.email),
                ..r.user
            })
            .collect(),
        page,
        per_page,
    })
}

#[cfg(test)]
mod tests {
    use super::mask_email;

    #[test]
    fn mask_email_keeps_the_first_character_and_the_domain() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("broken"), "***");
    }
}
