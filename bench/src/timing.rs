//! Can login timing tell an unknown identifier from a wrong password?
//!
//! Rounds of interleaved logins, in a random order: a known user with a wrong
//! password, and identifiers that do not exist. Each round's figure is the
//! AUC (area under the ROC curve) of the best threshold classifier on the
//! latencies, computed as the Mann-Whitney statistic P(unknown > wrong) +
//! P(equal)/2: 0.5 means nothing to tell, 1.0 or 0.0 a perfect tell. The
//! hardening issue's target is 0.45-0.55 in every round.

use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use serde::Serialize;

use crate::api::Api;

#[derive(Debug, Clone, Serialize)]
pub struct TimingRound {
    pub per_kind: usize,
    pub wrong_median_ms: f64,
    pub unknown_median_ms: f64,
    /// P(an unknown-identifier login is slower than a wrong-password one).
    pub auc: f64,
}

/// `rounds` rounds of `per_kind` logins of each kind, one at a time.
pub async fn measure(
    base: &str,
    username: &str,
    rounds: usize,
    per_kind: usize,
) -> anyhow::Result<Vec<TimingRound>> {
    let api = Api::new(base)?;
    // Warm both paths (connections, caches, the bookkeeping samples).
    for i in 0..20 {
        let _ = api.login(username, &format!("Wrong-Password-{i}!")).await;
        let _ = api.login(&format!("nobody_{i}"), "Wrong-Password-1!").await;
    }
    let mut results = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let mut order: Vec<bool> = (0..per_kind).flat_map(|_| [true, false]).collect();
        order.shuffle(&mut rand::thread_rng());
        let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
        for (i, is_unknown) in order.into_iter().enumerate() {
            let identifier = if is_unknown {
                format!("nobody_{round}_{i}")
            } else {
                username.to_owned()
            };
            let started = Instant::now();
            let _ = api
                .login(&identifier, &format!("Wrong-Password-{i}!"))
                .await;
            let took = started.elapsed();
            if is_unknown {
                unknown.push(took);
            } else {
                wrong.push(took);
            }
        }
        results.push(TimingRound {
            per_kind,
            wrong_median_ms: crate::stats::median_ms(&wrong),
            unknown_median_ms: crate::stats::median_ms(&unknown),
            auc: auc(&unknown, &wrong),
        });
    }
    Ok(results)
}

/// P(a > b) + P(a == b) / 2 over all pairs.
pub fn auc(a: &[Duration], b: &[Duration]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.5;
    }
    let mut score = 0.0;
    for x in a {
        for y in b {
            score += match x.cmp(y) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    score / (a.len() * b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_one_half_for_the_same_samples_and_one_for_a_clean_split() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(auc(&ms(&[1, 2, 3]), &ms(&[1, 2, 3])), 0.5);
        assert_eq!(auc(&ms(&[5, 6]), &ms(&[1, 2])), 1.0);
        assert_eq!(auc(&ms(&[1, 2]), &ms(&[5, 6])), 0.0);
    }
}
