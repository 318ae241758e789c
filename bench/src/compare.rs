//! The backends of one run side by side: the headline figure of each
//! scenario per backend, with the target it is judged by, so the two can be
//! read together (each backend's full report comes before it).

use std::fmt::Write as _;

use crate::report::{verdict, Report};

/// One row: a name and each backend's figure, already formatted.
struct Row {
    name: &'static str,
    cells: Vec<String>,
}

/// The table of `reports` (one per backend, in the order they ran).
pub fn side_by_side(reports: &[Report]) -> String {
    let rows = rows(reports);
    let mut out = String::new();
    let _ = write_table(&mut out, reports, &rows);
    out
}

fn rows(reports: &[Report]) -> Vec<Row> {
    let cell = |f: &dyn Fn(&Report) -> String| reports.iter().map(f).collect::<Vec<_>>();
    vec![
        Row {
            name: "ready after start",
            cells: cell(&|r| format!("{:.0} ms", r.startup_to_ready_ms)),
        },
        Row {
            name: "argon2 bound",
            cells: cell(&|r| {
                format!(
                    "{:.1}/s (t {:.1}/{:.1} ms)",
                    r.argon2.bound_per_s, r.argon2.t_verify_before_ms, r.argon2.t_verify_after_ms
                )
            }),
        },
        Row {
            name: "login",
            cells: cell(&|r| {
                let l = &r.login;
                format!(
                    "{:.1}/s = {:.2} of bound (>= {:.2} {})",
                    l.logins_per_s,
                    l.ratio,
                    l.target_ratio,
                    verdict(l.ratio >= l.target_ratio)
                )
            }),
        },
        Row {
            name: "login / argon2 alone",
            cells: cell(&|r| format!("{:.2}", r.login.logins_per_s / r.argon2.all_cores_per_s)),
        },
        Row {
            name: "refresh x32",
            cells: cell(&|r| {
                let f = &r.refresh;
                format!("{:.0}/s p99 {:.1} ms", f.refreshes_per_s, f.summary.p99_ms)
            }),
        },
        Row {
            name: "refresh target",
            cells: cell(&refresh_verdict),
        },
        Row {
            name: "write xacts login/refresh",
            cells: cell(
                &|r| match (r.login.write_transactions, r.refresh.write_transactions) {
                    (Some(l), Some(f)) => format!("{l:.1} / {f:.1}"),
                    _ => "n/a".to_owned(),
                },
            ),
        },
        Row {
            name: "/me, ratio to live",
            cells: cell(&|r| format!("{:.0}/s, {:.2}", r.me_vs_live.me_rps, r.me_vs_live.ratio)),
        },
        Row {
            name: "history last/first",
            cells: cell(&|r| format!("{:.2}", r.history.ratio)),
        },
        Row {
            name: "timing AUC",
            cells: cell(&|r| {
                r.timing
                    .iter()
                    .map(|t| format!("{:.3}", t.auc))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        },
        Row {
            name: "feed over SSE",
            cells: cell(&|r| {
                r.feed.as_ref().map_or_else(
                    || "skipped".to_owned(),
                    |f| format!("{:.0} events/s", f.events_per_s),
                )
            }),
        },
    ]
}

/// SQLite is judged by refreshes/s; PostgreSQL by its share of pgbench's
/// rate for the same transaction and by p99.
fn refresh_verdict(r: &Report) -> String {
    let f = &r.refresh;
    let mut parts = Vec::new();
    match (f.pgbench_ratio, f.pgbench_tps) {
        (Some(ratio), Some(tps)) => parts.push(format!(
            "{ratio:.2} of pgbench {tps:.0} tps (>= {:.2} {})",
            f.pgbench_target_ratio,
            verdict(ratio >= f.pgbench_target_ratio)
        )),
        _ => parts.push(format!(
            ">= {:.0}/s {}",
            f.target_per_s,
            verdict(f.refreshes_per_s >= f.target_per_s)
        )),
    }
    if let Some(p99) = f.target_p99_ms {
        parts.push(format!(
            "p99 < {p99:.0} ms {}",
            verdict(f.summary.p99_ms < p99)
        ));
    }
    parts.join("; ")
}

fn write_table(out: &mut String, reports: &[Report], rows: &[Row]) -> std::fmt::Result {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let columns: Vec<usize> = (0..reports.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.cells[i].len())
                .max()
                .unwrap_or(0)
                .max(8)
        })
        .collect();
    writeln!(out, "\nside by side, one run:")?;
    write!(out, "{:<width$}", "")?;
    for (report, column) in reports.iter().zip(&columns) {
        write!(out, "  {:<column$}", format!("{:?}", report.backend))?;
    }
    out.truncate(out.trim_end_matches(' ').len());
    writeln!(out)?;
    for row in rows {
        write!(out, "{:<width$}", row.name)?;
        for (cell, column) in row.cells.iter().zip(&columns) {
            write!(out, "  {cell:<column$}")?;
        }
        out.truncate(out.trim_end_matches(' ').len());
        writeln!(out)?;
    }
    Ok(())
}
