//! The admins' list of influencers, read from the `influencer_dashboard`
//! projection.
//!
//! Decisions where the issue is silent: only approved influencers (active
//! or suspended) are listed; the search matches the start of the display
//! name or of any of their codes, ignoring case; `sort=earnings` orders by
//! unrefunded commission summed over all currencies (minor units, so a
//! mixed-currency ranking is approximate), `sort=signups` by attributed
//! signups, the default by approval date, newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::earnings::{self, Scope};
use crate::store::Dialect;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InfluencerSummary {
    pub influencer_id: Uuid,
    pub display_name: String,
    /// `active` or `suspended`.
    pub status: String,
    pub commission_rate_bps: Option<i64>,
    pub approved_at: Option<DateTime<Utc>>,
    pub signups: i64,
    pub verified_signups: i64,
    pub conversions: i64,
    /// Unrefunded commission per currency.
    pub earnings: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfluencerPage {
    pub items: Vec<InfluencerSummary>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Sort {
    Newest,
    Earnings,
    Signups,
}

impl Sort {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "newest" => Some(Self::Newest),
            "earnings" => Some(Self::Earnings),
            "signups" => Some(Self::Signups),
            _ => None,
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Newest => "approved_at DESC",
            Self::Earnings => "total_earnings DESC",
            Self::Signups => "signups DESC",
        }
    }
}

/// Filters, already validated.
#[derive(Debug)]
pub struct InfluencerQuery {
    pub prefix: Option<String>,
    /// `active` or `suspended`; both when `None`.
    pub status: Option<&'static str>,
    pub sort: Sort,
    pub page: u32,
    pub per_page: u32,
}

/// The summary columns of each influencer, in `dialect`.
fn summary(dialect: Dialect) -> String {
    let Dialect {
        object_agg,
        empty_object,
        ..
    } = dialect;
    format!(
        "
    SELECT p.influencer_id, p.display_name, p.status, p.commission_rate_bps, p.approved_at,
        (SELECT count(*) FROM influencer_referrals r WHERE r.influencer_id = p.influencer_id) AS signups,
        (SELECT count(*) FROM influencer_referrals r WHERE r.influencer_id = p.influencer_id
            AND r.verified_at IS NOT NULL) AS verified_signups,
        (SELECT count(*) FROM influencer_conversions v WHERE v.influencer_id = p.influencer_id
            AND v.refunded_at IS NULL) AS conversions,
        (SELECT COALESCE({object_agg}(e.currency, e.total), {empty_object}) FROM
            (SELECT v.currency, CAST(sum(v.commission_minor) AS BIGINT) AS total
               FROM influencer_conversions v
              WHERE v.influencer_id = p.influencer_id AND v.refunded_at IS NULL
              GROUP BY v.currency) e) AS earnings,
        (SELECT CAST(COALESCE(sum(v.commission_minor), 0) AS BIGINT) FROM influencer_conversions v
          WHERE v.influencer_id = p.influencer_id AND v.refunded_at IS NULL) AS total_earnings
      FROM influencer_profiles p"
    )
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    summary: InfluencerSummary,
}

pub async fn search(state: &AppState, query: InfluencerQuery) -> Result<InfluencerPage, AppError> {
    let escaped = query.prefix.map(|p| {
        p.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
            .to_lowercase()
    });
    let sql = format!(
        "SELECT *, count(*) OVER () AS total FROM ({}
           WHERE p.status IN ('active', 'suspended')
             AND (CAST($1 AS TEXT) IS NULL OR p.status = $1)
             AND (CAST($2 AS TEXT) IS NULL OR lower(p.display_name) LIKE $2 || '%' ESCAPE '\\'
                  OR EXISTS (SELECT 1 FROM influencer_codes c
                              WHERE c.influencer_id = p.influencer_id
                                AND lower(c.code) LIKE $2 || '%' ESCAPE '\\'))) s
          ORDER BY {}, influencer_id LIMIT $3 OFFSET $4",
        summary(state.db.dialect()),
        query.sort.order_by()
    );
    #[derive(sqlx::FromRow)]
    struct Counted {
        #[sqlx(flatten)]
        row: Row,
        total: i64,
    }
    let rows: Vec<Counted> = crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(&sql)
            .bind(query.status)
            .bind(escaped)
            .bind(i64::from(query.per_page))
            .bind(i64::from(query.page.saturating_sub(1)) * i64::from(query.per_page))
            .fetch_all(pool)
    .await
    })?;
    Ok(InfluencerPage {
        total: rows.first().map_or(0, |r| r.total),
        items: rows.into_iter().map(|r| r.row.summary).collect(),
        page: query.page,
        per_page: query.per_page,
    })
}

/// One influencer (or applicant) by id.
pub async fn get(state: &AppState, id: Uuid) -> Result<InfluencerSummary, AppError> {
    crate::store::on_either!(&state.db, pool => {
    sqlx::query_as(&format!("{} WHERE p.influencer_id = $1", summary(state.db.dialect())))
            .bind(id)
            .fetch_optional(pool)
    .await
    })?
    .ok_or(AppError::NotFound)
}

/// Program totals for admins.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub influencers_active: i64,
    pub influencers_suspended: i64,
    pub applications_pending: i64,
    pub signups: i64,
    pub verified_signups: i64,
    /// Unrefunded conversions of referred users.
    pub conversions: i64,
    /// Per currency: `{pending, available, paid}` over all ledgers, counted
    /// as of today like `/influencer/me`.
    pub balances: serde_json::Value,
    /// The ten influencers with the most earnings (see [`Sort::Earnings`]).
    pub top: Vec<InfluencerSummary>,
}

pub async fn overview(state: &AppState) -> Result<Overview, AppError> {
    let today = state.config.program_clock.now().date_naive();
    let (active, suspended, pending, signups, verified, conversions): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = crate::store::on_either!(&state.db, pool => {
        sqlx::query_as(
            "SELECT
                (SELECT count(*) FROM influencer_profiles WHERE status = 'active'),
                (SELECT count(*) FROM influencer_profiles WHERE status = 'suspended'),
                (SELECT count(*) FROM influencer_applications WHERE status = 'pending'),
                (SELECT count(*) FROM influencer_referrals),
                (SELECT count(*) FROM influencer_referrals WHERE verified_at IS NOT NULL),
                (SELECT count(*) FROM influencer_conversions WHERE refunded_at IS NULL)",
        )
        .fetch_one(pool)
        .await
    })?;
    let balances: serde_json::Map<String, serde_json::Value> =
        earnings::balances(&state.db, Scope::Program, today)
            .await?
            .into_iter()
            .map(|b| {
                let figures = serde_json::json!({
                    "pending": b.pending, "available": b.available, "paid": b.paid,
                });
                (b.currency, figures)
            })
            .collect();
    let top = search(
        state,
        InfluencerQuery {
            prefix: None,
            status: None,
            sort: Sort::Earnings,
            page: 1,
            per_page: 10,
        },
    )
    .await?
    .items;
    Ok(Overview {
        influencers_active: active,
        influencers_suspended: suspended,
        applications_pending: pending,
        signups,
        verified_signups: verified,
        conversions,
        balances: balances.into(),
        top,
    })
}
