//! When earnings become available, as the read models see it: the one SQL
//! definition of the rule the `Ledger` aggregate applies
//! (`aggregates::ledger`): an earning waits in the pending bucket of its
//! release day, and from that UTC day on it is available. Every read of
//! balances (the influencer's dashboard, the program overview) and the
//! projection that empties released buckets use [`released_by`]; the
//! test `conversions::the_dashboard_and_the_ledger_agree_on_when_earnings_become_available`
//! holds the aggregate and these reads to the same answer at the day's
//! edges.

use chrono::NaiveDate;
use uuid::Uuid;

use super::{on_either, Database, StoreError};

/// The rule: a pending bucket dated `release_on` is available on `day`.
/// `release_on` and `day` are SQL expressions (a column, a parameter).
pub fn released_by(release_on: &str, day: &str) -> String {
    format!("{release_on} <= {day}")
}

/// One currency's money, in minor units, as of a day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Balance {
    pub currency: String,
    /// Earned, still in its hold.
    pub pending: i64,
    /// Released and not paid out.
    pub available: i64,
    pub paid: i64,
}

/// Whose balances: one influencer's, or the whole program's.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Influencer(Uuid),
    Program,
}

/// Balances per currency as of `today`, ordered by currency.
pub async fn balances(
    db: &Database,
    scope: Scope,
    today: NaiveDate,
) -> Result<Vec<Balance>, StoreError> {
    let sql = balances_sql(matches!(scope, Scope::Influencer(_)));
    let rows = on_either!(db, pool => {
        let query = sqlx::query_as(&sql).bind(today);
        match scope {
            Scope::Influencer(id) => query.bind(id).fetch_all(pool).await,
            Scope::Program => query.fetch_all(pool).await,
        }
    })?;
    Ok(rows)
}

/// `$1` is the day; with `one`, `$2` the influencer.
fn balances_sql(one: bool) -> String {
    let scope = |alias: &str| {
        if one {
            format!("{alias}.influencer_id = $2 AND ")
        } else {
            String::new()
        }
    };
    let released = released_by("p.release_on", "$1");
    let (b, p) = (scope("b"), scope("p"));
    let only = if one { "WHERE influencer_id = $2" } else { "" };
    format!(
        "SELECT c.currency,
            CAST(COALESCE((SELECT sum(p.amount) FROM influencer_pending p
                            WHERE {p}p.currency = c.currency AND NOT ({released})), 0) AS BIGINT) AS pending,
            CAST(COALESCE((SELECT sum(b.available) FROM influencer_balances b
                            WHERE {b}b.currency = c.currency), 0)
               + COALESCE((SELECT sum(p.amount) FROM influencer_pending p
                            WHERE {p}p.currency = c.currency AND {released}), 0) AS BIGINT) AS available,
            CAST(COALESCE((SELECT sum(b.paid) FROM influencer_balances b
                            WHERE {b}b.currency = c.currency), 0) AS BIGINT) AS paid
           FROM (SELECT currency FROM influencer_balances {only}
                 UNION SELECT currency FROM influencer_pending {only}) c
          ORDER BY c.currency"
    )
}
