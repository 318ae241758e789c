//! Rebuilding a read model on SQLite without its secondary indexes, then
//! building them at once.
//!
//! A rebuild inserts every row of its tables again. Each row lands at a
//! random place in the email and username indexes, and SQLite writes a
//! whole page to its write-ahead log (and again to the file) for each
//! page a transaction changes: once those indexes outgrow a batch's reach,
//! that is a page per index per row, and a rebuild at 1M accounts ran at
//! half the speed of one at 10,000 (the disk busy writing pages). Built
//! after the rows are in, an index is one sorted pass.
//!
//! The indexes' definitions are kept in `deferred_indexes` in the same
//! transaction that drops them, and removed in the one that recreates
//! each, so a rebuild that dies half-way loses none: [`restore`] runs
//! again at the next start or operator command (`Database::migrate`).
//! While a rebuild runs, reads of its tables go without those indexes;
//! they are incomplete anyway until it ends.

use sqlx::SqlitePool;

use super::turns::turn;

/// Drops the secondary indexes of `tables` (not those of a primary key or
/// a unique constraint), remembering how to build them.
pub async fn defer(pool: &SqlitePool, tables: &[&str]) -> Result<(), sqlx::Error> {
    let _turn = turn(pool).await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for table in tables {
        // Indexes SQLite made for a key or constraint have no SQL.
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master
              WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        for (name, sql) in indexes {
            sqlx::query("INSERT INTO deferred_indexes (name, sql) VALUES (?1, ?2)")
                .bind(&name)
                .bind(&sql)
                .execute(&mut *tx)
                .await?;
            // The name comes from sqlite_master: an identifier SQLite
            // accepted; quoted all the same.
            sqlx::query(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

/// Builds every deferred index, each in a transaction that also forgets
/// it. Nothing to do when none is deferred (or before the table exists).
pub async fn restore(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let exists: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes'",
    )
    .fetch_optional(pool)
    .await?;
    if exists.is_none() {
        return Ok(());
    }
    let _turn = turn(pool).await;
    let deferred: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM deferred_indexes ORDER BY name")
            .fetch_all(pool)
            .await?;
    for (name, sql) in deferred {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(&sql).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM deferred_indexes WHERE name = ?1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
