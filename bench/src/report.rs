//! One backend's figures: a human-readable table on stdout and the same
//! data as JSON in `bench/results/latest.json` (all backends of the run;
//! `compare` sets them side by side).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

pub use crate::compare::side_by_side;
use crate::conversions::ConversionsReport;
use crate::relay::{Lag, RelayReport};
use crate::scenarios::{Argon2Baseline, History};
use crate::service::LogSummary;
use crate::stats::Summary;

/// The targets of issue 11, per backend.
pub struct Targets {
    /// Logins per second as a share of the argon2 bound.
    pub login_ratio: f64,
    /// Refreshes per second at 32 connections on a 2-core machine.
    pub refresh_per_s: f64,
    pub refresh_p99_ms: Option<f64>,
}

impl Targets {
    pub fn of(backend: crate::service::Backend) -> Self {
        match backend {
            // PostgreSQL's refresh target is its share of pgbench's rate.
            crate::service::Backend::Postgres => Self {
                login_ratio: 0.90,
                refresh_per_s: 1000.0,
                refresh_p99_ms: Some(50.0),
            },
            crate::service::Backend::Sqlite => Self {
                login_ratio: 0.85,
                refresh_per_s: 2000.0,
                refresh_p99_ms: None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub backend: crate::service::Backend,
    /// From spawning the binary on an empty database and data directory to
    /// `/health/ready` answering 200.
    pub startup_to_ready_ms: f64,
    pub date: String,
    pub cores: usize,
    pub duration_secs: u64,
    pub quick: bool,
    pub users: usize,
    /// 1-minute load average (`/proc/loadavg`) before and after the
    /// scenarios; well above 0 before means something else shared the cores.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    pub argon2: Argon2Baseline,
    pub login: LoginReport,
    pub refresh: RefreshReport,
    pub me_vs_live: MeReport,
    pub history: History,
    /// Unknown identifier vs wrong password, per round (target AUC
    /// 0.45-0.55).
    pub timing: Vec<crate::timing::TimingRound>,
    /// Start endpoints, known vs unknown; passwordless sign-ins per second.
    pub ways_in: crate::ways_in::WaysInReport,
    /// OpenID and MFA sign-ins against password logins; `None` with
    /// `--skip-mfa-oidc`.
    pub mfa_oidc: Option<crate::mfa_oidc::MfaOidcReport>,
    /// Conversion recording at 10 vs many prior conversions; `None` with
    /// `--skip-conversions`.
    pub conversions: Option<ConversionsReport>,
    /// A backlog streamed over SSE; `None` with `--skip-feed`.
    pub feed: Option<crate::feed::FeedReport>,
    /// Whether the relay published while login, refresh, /me and history
    /// ran (it does not: their figures exclude its cost).
    pub relay_during_scenarios: bool,
    /// The relay scenarios; `None` with `--skip-relay` or when they failed.
    pub relay: Option<RelayReport>,
    pub relay_error: Option<String>,
    pub service_log: LogSummary,
}

#[derive(Debug, Serialize)]
pub struct LoginReport {
    pub clients: usize,
    pub logins_per_s: f64,
    pub bound_per_s: f64,
    /// `logins_per_s / bound_per_s`.
    pub ratio: f64,
    pub target_ratio: f64,
    /// Write transactions per login (PostgreSQL), background ones included.
    pub write_transactions: Option<f64>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct RefreshReport {
    pub connections: usize,
    pub refreshes_per_s: f64,
    pub target_per_s: f64,
    pub target_p99_ms: Option<f64>,
    /// Write transactions per refresh (PostgreSQL), background ones
    /// included.
    pub write_transactions: Option<f64>,
    /// `pgbench` on `bench/pgbench/refresh.sql` in the same run, same
    /// clients (PostgreSQL only), and the service's share of it.
    pub pgbench_tps: Option<f64>,
    pub pgbench_ratio: Option<f64>,
    pub pgbench_target_ratio: f64,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct MeReport {
    pub concurrency: usize,
    pub me_rps: f64,
    pub live_rps: f64,
    /// `me_rps / live_rps`.
    pub ratio: f64,
    /// `/me` on an instance that skips the revocation lookup (not on
    /// SQLite, where a second server cannot open the file).
    pub me_without_check_rps: Option<f64>,
    /// `me_rps / me_without_check_rps`: what the lookup costs (1.0 = nothing).
    pub check_ratio: Option<f64>,
    pub me: Summary,
    pub live: Summary,
    pub me_without_check: Option<Summary>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "backend {:?}: ready {:.0} ms after start on an empty database",
            self.backend, self.startup_to_ready_ms
        )?;
        let a = &self.argon2;
        writeln!(
            out,
            "identity bench  {}  {} cores  {} s per scenario{}",
            self.date,
            self.cores,
            self.duration_secs,
            if self.quick { "  (quick)" } else { "" }
        )?;
        writeln!(
            out,
            "login, refresh, /me and history ran with the relay {}",
            if self.relay_during_scenarios {
                "on"
            } else {
                "off"
            }
        )?;
        writeln!(
            out,
            "load average (1 min) before {} / after {}",
            load(self.load_before),
            load(self.load_after)
        )?;
        writeln!(
            out,
            "argon2id m={} KiB t={} p={}: median verify {:.1} ms on 1 thread ({:.1} before the logins, {:.1} after) -> bound {:.1} logins/s on {} cores",
            a.memory_kib, a.iterations, a.parallelism, a.t_verify_ms, a.t_verify_before_ms, a.t_verify_after_ms, a.bound_per_s, a.cores
        )?;
        writeln!(
            out,
            "argon2id alone on all {} cores at once: {:.1} verifications/s ({:.2} of the bound)",
            a.cores,
            a.all_cores_per_s,
            a.all_cores_per_s / a.bound_per_s
        )?;
        let l = &self.login;
        line(out, &format!("login x{}", l.clients), &l.summary)?;
        writeln!(
            out,
            "    ratio to bound {:.2} (target >= {:.2}) {}; to argon2 alone on all cores {:.2}",
            l.ratio,
            l.target_ratio,
            verdict(l.ratio >= l.target_ratio),
            l.summary.per_s / a.all_cores_per_s
        )?;
        if let Some(xacts) = l.write_transactions {
            writeln!(out, "    {xacts:.1} write transactions per login")?;
        }
        let r = &self.refresh;
        line(out, &format!("refresh x{}", r.connections), &r.summary)?;
        writeln!(
            out,
            "    target >= {:.0}/s {}",
            r.target_per_s,
            verdict(r.refreshes_per_s >= r.target_per_s)
        )?;
        if let Some(p99) = r.target_p99_ms {
            writeln!(
                out,
                "    p99 {:.1} ms (target < {p99:.0} ms) {}",
                r.summary.p99_ms,
                verdict(r.summary.p99_ms < p99)
            )?;
        }
        if let Some(xacts) = r.write_transactions {
            writeln!(out, "    {xacts:.1} write transactions per refresh")?;
        }
        if let (Some(tps), Some(ratio)) = (r.pgbench_tps, r.pgbench_ratio) {
            writeln!(
                out,
                "    pgbench (bench/pgbench/refresh.sql) {tps:.0} tps; refresh/pgbench {ratio:.2} (target >= {:.2}) {}",
                r.pgbench_target_ratio,
                verdict(ratio >= r.pgbench_target_ratio)
            )?;
        }
        let m = &self.me_vs_live;
        line(out, &format!("/health/live x{}", m.concurrency), &m.live)?;
        line(out, &format!("/me x{}", m.concurrency), &m.me)?;
        writeln!(out, "    me/live ratio {:.2}", m.ratio)?;
        if let (Some(unchecked), Some(ratio)) = (&m.me_without_check, m.check_ratio) {
            line(out, &format!("/me unchecked x{}", m.concurrency), unchecked)?;
            writeln!(
                out,
                "    /me with / without the revocation check {ratio:.2} (expect ~1.0; me/live target >= 0.5, see `bench reads`)"
            )?;
        }
        let h = &self.history;
        writeln!(
            out,
            "{:<18} {} sequential refreshes of one session in {:.1} s, errors {}: first-100 p50 {:.2} ms, last-100 p50 {:.2} ms, ratio {:.2} (expect ~1.0)",
            "history", h.refreshes, h.total_s, h.errors, h.first_p50_ms, h.last_p50_ms, h.ratio
        )?;
        for (i, t) in self.timing.iter().enumerate() {
            writeln!(
                out,
                "{:<18} round {}: {} logins each, wrong password p50 {:.2} ms, unknown identifier p50 {:.2} ms, AUC {:.3} {}",
                "timing",
                i + 1,
                t.per_kind,
                t.wrong_median_ms,
                t.unknown_median_ms,
                t.auc,
                verdict((0.45..=0.55).contains(&t.auc))
            )?;
        }
        for t in &self.ways_in.start_timing {
            writeln!(
                out,
                "{:<18} {}: {} requests each, known p50 {:.2} ms, unknown p50 {:.2} ms, ratio {:.2} (target 0.90-1.10) {}",
                "start timing",
                t.endpoint,
                t.samples,
                t.known_median_ms,
                t.unknown_median_ms,
                t.ratio,
                verdict((0.9..=1.1).contains(&t.ratio))
            )?;
        }
        let p = &self.ways_in.passwordless;
        writeln!(
            out,
            "{:<18} x{} {:.1}/s p50 {:.2} ms p99 {:.2} ms, errors {}; password logins {:.1}/s in the same run",
            "passwordless",
            self.ways_in.passwordless_clients,
            p.per_s,
            p.p50_ms,
            p.p99_ms,
            p.errors,
            self.login.logins_per_s
        )?;
        if let Some(m) = &self.mfa_oidc {
            writeln!(
                out,
                "{:<18} x{} {:.1}/s p50 {:.2} ms p99 {:.2} ms, errors {}; {:.2} of password logins/s (target >= 1) {}",
                "openid sign-in",
                m.clients,
                m.oidc.per_s,
                m.oidc.p50_ms,
                m.oidc.p99_ms,
                m.oidc.errors,
                m.oidc_vs_password,
                verdict(m.oidc_vs_password >= 1.0)
            )?;
            writeln!(
                out,
                "{:<18} x{} {} accounts, {:.1} logins/s (password + TOTP), failures {}; {:.2} of password logins/s; the TOTP step alone {:.1}/s ({:.1} x the argon2 bound: no argon2 in it)",
                "mfa login",
                m.clients,
                m.mfa_accounts,
                m.mfa_logins_per_s,
                m.mfa_failures,
                m.mfa_vs_password,
                m.mfa_second_step_per_s,
                m.mfa_second_step_per_s / self.argon2.bound_per_s
            )?;
        }
        if let Some(f) = &self.feed {
            writeln!(
                out,
                "{:<18} {} events seeded in {:.1} s, streamed over SSE to one consumer in {:.2} s: {:.0} events/s (target >= {:.0}) {}",
                "feed",
                f.backlog,
                f.seed_secs,
                f.stream_secs,
                f.events_per_s,
                f.target_per_s,
                verdict(f.events_per_s >= f.target_per_s)
            )?;
        }
        if let Some(c) = &self.conversions {
            line(out, &format!("conv seed x{}", c.seed_concurrency), &c.seed)?;
            for (name, t) in [
                ("after seeding", &c.after_seed),
                ("after vacuum", &c.after_vacuum),
            ] {
                line(out, &format!("conv A ({})", c.small_prior), &t.small)?;
                line(out, &format!("conv B ({})", c.large_prior), &t.large)?;
                writeln!(
                    out,
                    "    {name}: {} sequential recordings each, A and B alternating: B/A p50 ratio {:.2}, p99 ratio {:.2} (expect ~1.0)",
                    c.samples, t.p50_ratio, t.p99_ratio
                )?;
            }
            writeln!(
                out,
                "    VACUUM (ANALYZE) between the rounds took {:.1} s",
                c.vacuum_s
            )?;
        }
        self.render_relay(out)?;
        let s = &self.service_log;
        writeln!(
            out,
            "service log: {} warn, {} error, {} other lines",
            s.warn_lines, s.error_lines, s.other_lines
        )?;
        for sample in &s.samples {
            writeln!(out, "    {sample}")?;
        }
        Ok(())
    }

    fn render_relay(&self, out: &mut String) -> std::fmt::Result {
        if let Some(error) = &self.relay_error {
            writeln!(out, "{:<18} FAILED: {error}", "relay")?;
        }
        let Some(relay) = &self.relay else {
            return Ok(());
        };
        let d = &relay.drain;
        writeln!(
            out,
            "{:<18} {} events stored, {} unpublished at first ready, published in {:.2} s -> {:.0} events/s; subscriber got {} in {:.2} s first to last -> {:.0}/s; spawn to drained {:.2} s",
            "relay drain",
            d.stored_events,
            d.backlog,
            d.drain_s,
            d.events_per_s,
            d.received,
            d.received_window_s,
            d.received_per_s,
            d.since_spawn_s
        )?;
        let s = &relay.steady;
        line(out, &format!("relay load x{}", s.sessions), &s.refresh)?;
        writeln!(
            out,
            "    paced refreshes at {:.0}/s target ({:.2} of the refresh scenario's rate); {} events received, {:.1} events/s",
            s.target_per_s, s.share_of_refresh_capacity, s.events_received, s.events_per_s
        )?;
        lag(out, "commit to consumer", &s.lag)?;
        lag(out, "commit to stored", &s.stored_lag)?;
        if s.undecodable + s.consumer_errors > 0 {
            writeln!(
                out,
                "    {} undecodable messages, {} consumer errors",
                s.undecodable, s.consumer_errors
            )?;
        }
        Ok(())
    }
}

/// Writes the run's reports, one per backend in the order they ran, as
/// pretty JSON `{"runs": [...]}` to `path`, creating its directory.
pub fn write_json(reports: &[Report], path: &Path) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Runs<'a> {
        runs: &'a [Report],
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&Runs { runs: reports })?;
    std::fs::write(path, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn line(out: &mut String, name: &str, s: &Summary) -> std::fmt::Result {
    writeln!(
        out,
        "{name:<18} {:>9.1}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  cpu {}  ok {}  errors {}{}",
        s.per_s,
        s.p50_ms,
        s.p99_ms,
        s.max_ms,
        s.cpu_busy.map_or_else(|| "n/a".to_owned(), |c| format!("{:.0}%", c * 100.0)),
        s.ok,
        s.errors,
        if s.error_kinds.is_empty() {
            String::new()
        } else {
            format!(" {:?}", s.error_kinds)
        }
    )
}

fn lag(out: &mut String, name: &str, l: &Lag) -> std::fmt::Result {
    writeln!(
        out,
        "    {name:<19} lag p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} events)",
        l.p50_ms, l.p99_ms, l.max_ms, l.samples
    )
}

fn load(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"))
}

pub(crate) fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "BELOW TARGET"
    }
}
