//! One writer at a time per aggregate, within this instance.
//!
//! Optimistic concurrency alone keeps every stream consistent, but on a hot
//! aggregate (an influencer's ledger receiving a burst of conversions) it
//! wastes work: of N concurrent writers one commits per round and the rest
//! load, handle and roll back again, so the last one needs N attempts and
//! a burst of 32 could exhaust the retries and answer `503 retry`. Queueing
//! the writers of one aggregate behind a lock turns that into one load and
//! one commit each. Writers on other instances still race optimistically,
//! which the repository's retry loop absorbs.
//!
//! The locks are striped by a hash of the aggregate id: a fixed table, no
//! growth with the number of aggregates, and two unrelated aggregates share
//! a stripe with probability 1/STRIPES, which only makes one wait for the
//! other's (millisecond) commit.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 1024;

pub struct Writers {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl Default for Writers {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Writers {
    /// Waits for this instance's turn to write aggregate `id`. The turn
    /// lasts as long as the guard.
    pub async fn turn(&self, id: &str) -> MutexGuard<'_, ()> {
        // The modulo keeps the index in range; truncating the hash to
        // usize first only drops bits the modulo would drop anyway.
        let index = (self.hasher.hash_one(id) as usize) % self.stripes.len();
        self.stripes[index].lock().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writers_of_one_aggregate_take_turns() {
        let writers = Arc::new(Writers::default());
        let first = writers.turn("ledger-1").await;
        let waiting = {
            let writers = writers.clone();
            tokio::spawn(async move {
                let _turn = writers.turn("ledger-1").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the second writer gets its turn")
            .expect("no panic");
    }
}
