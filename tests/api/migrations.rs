//! Migrations that change data written by earlier versions.

use std::borrow::Cow;

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::*;

/// Payouts recorded before references were claimed get their claims from
/// the migration that introduced the rule, the first payout keeping each.
#[tokio::test]
async fn payouts_recorded_before_references_were_claimed_get_their_claims() {
    let (_, url) = create_database().await;
    let pool = PgPool::connect(&url).await.unwrap();
    let mut before = sqlx::migrate!("./migrations/postgres");
    let index = before
        .migrations
        .iter()
        .position(|m| m.description.contains("payout reference claims"))
        .expect("the backfill migration");
    before.migrations = Cow::Owned(before.migrations[..index].to_vec());
    before.run(&pool).await.unwrap();

    // What the earlier version could write: one reference paid twice, on
    // two ledgers, and one once.
    for (ledger, sequence, reference) in [
        ("ledger-a", 1, "tr-old"),
        ("ledger-b", 1, "tr-old"),
        ("ledger-a", 2, "tr-other"),
    ] {
        let payload = json!({"PayoutRecorded": {
            "amount_minor": 100, "currency": "USD", "reference": reference,
            "by": "admin", "at": "2026-01-01T00:00:00Z",
        }});
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             VALUES ('ledger', $1, $2, 'identity.ledger.PayoutRecorded', '1', $3, '{}')",
        )
        .bind(ledger)
        .bind(sequence)
        .bind(payload)
        .execute(&pool)
        .await
        .unwrap();
    }

    identity::store::Database::from(pool.clone())
        .migrate()
        .await
        .unwrap();
    let claims: Vec<(String, String)> = sqlx::query_as(
        "SELECT value, owner_id FROM unique_claims
          WHERE kind = 'payout_reference' ORDER BY value",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        claims,
        [
            ("tr-old".to_owned(), "ledger-a".to_owned()),
            ("tr-other".to_owned(), "ledger-a".to_owned()),
        ]
    );
}
