//! The scale scenario's table: per backend, each figure at every size and
//! the ratio of the largest to the smallest, judged against issue 17's
//! targets (reads' p99 within 1.5x; rebuild >= 20,000 events/s and within
//! 0.8 of the small store's; 50,000 events caught up in under 5 s).

use std::fmt::Write as _;

use crate::report::verdict;
use crate::scale::SizeReport;

const P99_RATIO: f64 = 1.5;
const REBUILD_PER_S: f64 = 20_000.0;
const REBUILD_RATIO: f64 = 0.8;
const CATCH_UP_SECS: f64 = 5.0;

pub fn render(reports: &[SizeReport]) -> String {
    let mut out = String::new();
    let mut backends: Vec<_> = reports.iter().map(|r| r.backend).collect();
    backends.dedup();
    for backend in backends {
        let sizes: Vec<&SizeReport> = reports.iter().filter(|r| r.backend == backend).collect();
        // Writing to a String cannot fail.
        let _ = table(&mut out, &sizes);
    }
    out
}

fn table(out: &mut String, sizes: &[&SizeReport]) -> std::fmt::Result {
    let (Some(first), Some(last)) = (sizes.first(), sizes.last()) else {
        return Ok(());
    };
    let scaled = sizes.len() > 1;
    write!(out, "\n{:?}: {:<34}", first.backend, "")?;
    for size in sizes {
        write!(out, "{:>24}", format!("{} accounts", size.accounts))?;
    }
    writeln!(out, "{}", if scaled { "   ratio" } else { "" })?;
    let row = |out: &mut String, name: &str, cells: Vec<String>, tail: String| {
        let mut line = format!("  {name:<42}");
        for cell in cells {
            line.push_str(&format!("{cell:>24}"));
        }
        let _ = writeln!(out, "{line}   {tail}");
    };
    row(
        out,
        "seeded (events, accounts/s)",
        sizes
            .iter()
            .map(|s| format!("{} ev, {:.0}/s", s.seeded.events, s.seeded.accounts_per_s))
            .collect(),
        String::new(),
    );
    row(
        out,
        "store on disk",
        sizes
            .iter()
            .map(|s| format!("{:.2} GB", s.store_bytes as f64 / 1e9))
            .collect(),
        String::new(),
    );
    let rebuild_ratio = last.rebuild_events_per_s / first.rebuild_events_per_s;
    row(
        out,
        "rebuild of every projection (events/s)",
        sizes
            .iter()
            .map(|s| {
                format!(
                    "{:.0} {}",
                    s.rebuild_events_per_s,
                    verdict(s.rebuild_events_per_s >= REBUILD_PER_S)
                )
            })
            .collect(),
        if scaled {
            format!(
                "{rebuild_ratio:.2} (>= {REBUILD_RATIO}) {}",
                verdict(rebuild_ratio >= REBUILD_RATIO)
            )
        } else {
            String::new()
        },
    );
    row(
        out,
        &format!("start-up {} events behind (s)", first.behind_events),
        sizes
            .iter()
            .map(|s| {
                format!(
                    "{:.2} {}",
                    s.catch_up_secs,
                    verdict(s.catch_up_secs < CATCH_UP_SECS)
                )
            })
            .collect(),
        String::new(),
    );
    for (index, (name, _)) in first.reads.iter().enumerate() {
        let cells = sizes
            .iter()
            .map(|s| {
                s.reads.get(index).map_or_else(String::new, |(_, r)| {
                    format!("{:.1}/s p99 {:.1} ms", r.per_s, r.p99_ms)
                })
            })
            .collect();
        let tail = match (first.reads.get(index), last.reads.get(index)) {
            (Some((_, small)), Some((_, large))) if scaled && small.p99_ms > 0.0 => {
                let ratio = large.p99_ms / small.p99_ms;
                let errors: u64 = sizes
                    .iter()
                    .filter_map(|s| s.reads.get(index))
                    .map(|(_, r)| r.errors)
                    .sum();
                format!(
                    "{ratio:.2} (<= {P99_RATIO}) {}{}",
                    verdict(ratio <= P99_RATIO),
                    if errors > 0 {
                        format!(" ERRORS {errors}")
                    } else {
                        String::new()
                    }
                )
            }
            _ => String::new(),
        };
        row(out, name, cells, tail);
    }
    Ok(())
}
