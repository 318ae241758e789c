//! Writers of one SQLite file take turns within this process.
//!
//! SQLite lets one writer in at a time and makes the others retry through
//! its busy handler, which sleeps 1, 2, 5, … up to 100 ms between tries: at
//! 32 concurrent refreshes the sleeps, not the writes, set the latency (p99
//! 3.3 s). A FIFO async mutex per file hands the write lock on the moment
//! it is free, and a waiting writer holds no pooled connection. Other
//! processes on the file (operator commands) still meet the busy handler,
//! which is what it is for.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use sqlx::SqlitePool;
use tokio::sync::OwnedMutexGuard;

/// One mutex per database file open in this process.
static TURNS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

/// Waits for this process's turn to write to `pool`'s file; the turn lasts
/// as long as the guard. Take it before `BEGIN IMMEDIATE`, never while
/// holding another.
pub async fn turn(pool: &SqlitePool) -> OwnedMutexGuard<()> {
    let options = pool.connect_options();
    let file = options.get_filename();
    let gate = {
        // A poisoned map only means a panic elsewhere while inserting; the
        // map itself is still whole.
        let mut turns = TURNS.lock().unwrap_or_else(|p| p.into_inner());
        // Looked up by reference: a write allocates nothing once its file
        // has a gate.
        match turns.get(file) {
            Some(gate) => gate.clone(),
            None => turns.entry(file.to_path_buf()).or_default().clone(),
        }
    };
    gate.lock_owned().await
}
