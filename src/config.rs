//! `pgadvise.toml`: settings a team keeps next to its code, so scheduled runs
//! need no long command lines. Found in the working directory, or given with
//! `--config`. Flags given on the command line win over the file.
//!
//! Every command-line flag has a key (README, "pgadvise.toml"):
//!
//! ```toml
//! quiet = false
//! [connection]   connect_timeout, statement_timeout, lock_timeout
//! [advisor]      top, min_calls, min_total_time, min_mean_time, min_cost_savings, budget,
//!                max_indexes_per_table,
//!                verify, queries, queries_file, include_tables, exclude_tables, drop_unused
//! [output]       format, report, pr_body, save_snapshot
//! [audit]        fail_on, baseline, write_baseline
//! [thresholds]   missing_index_high_share, missing_index_medium_share, missing_index_critical_time
//! [ignore]       tables, rules
//! [migrations]   format, dir (= scan --out), lock_timeout
//! [demo]         out_dir
//! [pools.api]    instances = 4, size = 20     (matched to application_name)
//! [pool]         sample_window = "30s", db_cores = 8
//! ```

use crate::analyze::pool::DeclaredPool;
use crate::analyze::rule::RuleId;
use clap::ValueEnum;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "pgadvise.toml";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Declared connection pools by application_name.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolEntry>,
    #[serde(default)]
    pub pool: PoolSettings,
    /// `--quiet`.
    #[serde(default)]
    pub quiet: bool,
    #[serde(default)]
    pub connection: ConnectionSettings,
    #[serde(default)]
    pub advisor: AdvisorSettings,
    #[serde(default)]
    pub output: OutputSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub ignore: IgnoreSettings,
    #[serde(default)]
    pub migrations: MigrationSettings,
    #[serde(default)]
    pub demo: DemoSettings,
}

/// Durations as text (`10s`, `500ms`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// The connection (URL or conninfo) when neither the command line nor
    /// DATABASE_URL gives one; it wins over the PG* variables. Keep passwords in
    /// ~/.pgpass or PGPASSWORD rather than here.
    pub database_url: Option<String>,
    pub connect_timeout: Option<String>,
    pub statement_timeout: Option<String>,
    pub lock_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorSettings {
    pub top: Option<usize>,
    pub min_calls: Option<i64>,
    pub min_total_time: Option<String>,
    pub min_mean_time: Option<String>,
    pub min_cost_savings: Option<f64>,
    /// `--budget`: total size of the proposed set, e.g. `500MB`.
    pub budget: Option<String>,
    pub max_indexes_per_table: Option<usize>,
    /// `false` is `--no-verify`.
    pub verify: Option<bool>,
    #[serde(default)]
    pub queries: Vec<String>,
    pub queries_file: Option<PathBuf>,
    #[serde(default)]
    pub include_tables: Vec<String>,
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// `--drop-unused`: also write drops for unused indexes.
    pub drop_unused: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSettings {
    /// `text`, `json`, `sarif` or `github`.
    pub format: Option<String>,
    pub report: Option<PathBuf>,
    pub pr_body: Option<PathBuf>,
    pub save_snapshot: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// `low`, `medium`, `high` (default) or `critical`.
    pub fail_on: Option<String>,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
}

/// How serious a missing index is: the share of the workload's time it saves.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub missing_index_high_share: Option<f64>,
    pub missing_index_medium_share: Option<f64>,
    /// A duration: at or above the high share and this much time saved, critical.
    pub missing_index_critical_time: Option<String>,
}

/// Findings to leave out: rule ids, and tables (`schema.table` or a bare name).
/// Ignored tables are also left out of index proposals.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreSettings {
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RuleId>,
}

/// For the migration writer (`scan --out`): the runner's format and the folder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSettings {
    pub format: Option<String>,
    /// `scan --out`: with it set, every `scan` writes its migrations here.
    pub dir: Option<PathBuf>,
    /// `--migration-lock-timeout`.
    pub lock_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    pub instances: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// A duration such as `10s` or `2min`.
    pub sample_window: Option<String>,
    pub db_cores: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads `explicit`, or `./pgadvise.toml` when it exists; `None` when there is no file.
    pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_FILE);
                if !p.is_file() {
                    return Ok(None);
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        Ok(Some((path, config)))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, pool) in &config.pools {
            if pool.instances == 0 || pool.size == 0 {
                return Err(format!(
                    "[pools.{name}]: instances and size must be at least 1"
                ));
            }
        }
        if let Some(window) = &config.pool.sample_window {
            crate::cli::parse_duration(window).map_err(|e| format!("[pool] sample_window: {e}"))?;
        }
        let durations = [
            (
                "[connection] connect_timeout",
                &config.connection.connect_timeout,
            ),
            (
                "[connection] statement_timeout",
                &config.connection.statement_timeout,
            ),
            ("[connection] lock_timeout", &config.connection.lock_timeout),
            ("[advisor] min_total_time", &config.advisor.min_total_time),
            ("[advisor] min_mean_time", &config.advisor.min_mean_time),
            (
                "[thresholds] missing_index_critical_time",
                &config.thresholds.missing_index_critical_time,
            ),
        ];
        for (key, value) in durations {
            if let Some(v) = value {
                crate::cli::parse_duration(v).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        if let Some(b) = &config.advisor.budget {
            crate::cli::parse_size(b).map_err(|e| format!("[advisor] budget: {e}"))?;
        }
        if config.advisor.max_indexes_per_table == Some(0) {
            return Err("[advisor] max_indexes_per_table: at least 1".into());
        }
        if let Some(p) = config.advisor.min_cost_savings {
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "[advisor] min_cost_savings: {p} is not between 0 and 100"
                ));
            }
        }
        for (key, share) in [
            (
                "missing_index_high_share",
                config.thresholds.missing_index_high_share,
            ),
            (
                "missing_index_medium_share",
                config.thresholds.missing_index_medium_share,
            ),
        ] {
            if share.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
                return Err(format!("[thresholds] {key}: a share between 0 and 1"));
            }
        }
        if let Some(f) = &config.output.format {
            crate::cli::OutputFormat::from_str(f, true)
                .map_err(|_| format!("[output] format: '{f}' (text, json, sarif or github)"))?;
        }
        if let Some(f) = &config.migrations.format {
            crate::cli::MigrationFormat::from_str(f, true)
                .map_err(|_| format!("[migrations] format: '{f}' is not a migration format"))?;
        }
        if let Some(d) = &config.migrations.lock_timeout {
            crate::cli::parse_duration(d).map_err(|e| format!("[migrations] lock_timeout: {e}"))?;
        }
        if let Some(f) = &config.audit.fail_on {
            crate::emit::audit::parse_severity(f).map_err(|e| format!("[audit] fail_on: {e}"))?;
        }
        Ok(config)
    }

    pub fn declared_pools(&self) -> Vec<DeclaredPool> {
        self.pools
            .iter()
            .map(|(name, p)| DeclaredPool {
                name: name.clone(),
                instances: p.instances,
                size: p.size,
            })
            .collect()
    }

    pub fn sample_window(&self) -> Option<Duration> {
        self.pool
            .sample_window
            .as_deref()
            .and_then(|w| crate::cli::parse_duration(w).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pools_and_settings() {
        let config = Config::parse(
            "[pools.api]\ninstances = 4\nsize = 20\n\n[pools.\"admin tool\"]\ninstances = 1\nsize = 5\n\n\
             [pool]\nsample_window = \"30s\"\ndb_cores = 8\n",
        )
        .unwrap();
        let pools = config.declared_pools();
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].name, "admin tool");
        assert_eq!(pools[1].total(), 80);
        assert_eq!(config.sample_window(), Some(Duration::from_secs(30)));
        assert_eq!(config.pool.db_cores, Some(8));
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[pools.api]\ninstances = 4\n", "size"),
            ("[pools.api]\ninstances = 0\nsize = 3\n", "at least 1"),
            ("[pool]\nsample_window = \"soon\"\n", "sample_window"),
            ("[poolz]\n", "poolz"),
            ("[pools.api]\ninstances = 4\nsize = 20\nmax = 3\n", "max"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}

/// Flags given on the command line (clap argument ids), which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Explicit(pub Vec<String>);

impl Explicit {
    /// The ids of every argument given on the command line, the subcommand's included.
    pub fn from_matches(matches: &clap::ArgMatches) -> Explicit {
        let mut ids = Vec::new();
        let mut current = Some(matches);
        while let Some(m) = current {
            for id in m.ids() {
                if m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine) {
                    ids.push(id.as_str().to_string());
                }
            }
            current = m.subcommand().map(|(_, sub)| sub);
        }
        Explicit(ids)
    }

    pub fn given(&self, id: &str) -> bool {
        self.0.iter().any(|i| i == id)
    }
}

impl Config {
    /// `scan` only: where and how migrations are written. (`audit` writes no
    /// files unless its own flags ask.)
    pub fn apply_migrations(&self, args: &mut crate::cli::ScanArgs, explicit: &Explicit) {
        let m = &self.migrations;
        let out = &mut args.migrations;
        if !explicit.given("out") && out.out.is_none() {
            out.out = m.dir.clone();
        }
        if !explicit.given("migration_format") {
            if let Some(f) = m
                .format
                .as_deref()
                .and_then(|f| crate::cli::MigrationFormat::from_str(f, true).ok())
            {
                out.migration_format = f;
            }
        }
        if !explicit.given("migration_lock_timeout") {
            if let Some(d) = m
                .lock_timeout
                .as_deref()
                .and_then(|d| crate::cli::parse_duration(d).ok())
            {
                out.migration_lock_timeout = d;
            }
        }
    }

    /// Fills each scan flag the command line did not give from the file.
    pub fn apply_to_scan(&self, args: &mut crate::cli::ScanArgs, explicit: &Explicit) {
        let duration = |v: &Option<String>| {
            v.as_deref()
                .and_then(|d| crate::cli::parse_duration(d).ok())
        };
        let c = &self.connection;
        // DATABASE_URL (a CI secret, say) wins over a URL committed in the file.
        if args.connection.explicit().is_none()
            && args.snapshot.is_none()
            && std::env::var_os("DATABASE_URL").is_none()
        {
            args.connection.database_url = c.database_url.clone();
        }
        if !explicit.given("connect_timeout") {
            if let Some(d) = duration(&c.connect_timeout) {
                args.connection.connect_timeout = Some(d);
            }
        }
        if !explicit.given("statement_timeout") {
            if let Some(d) = duration(&c.statement_timeout) {
                args.connection.statement_timeout = d;
            }
        }
        if !explicit.given("lock_timeout") {
            if let Some(d) = duration(&c.lock_timeout) {
                args.connection.lock_timeout = d;
            }
        }
        let a = &self.advisor;
        let adv = &mut args.advisor;
        if let (false, Some(v)) = (explicit.given("top"), a.top) {
            adv.top = v;
        }
        if let (false, Some(v)) = (explicit.given("min_calls"), a.min_calls) {
            adv.min_calls = v;
        }
        if !explicit.given("min_total_time") && adv.min_total_time.is_none() {
            adv.min_total_time = duration(&a.min_total_time);
        }
        if !explicit.given("min_mean_time") && adv.min_mean_time.is_none() {
            adv.min_mean_time = duration(&a.min_mean_time);
        }
        if let (false, Some(v)) = (explicit.given("min_cost_savings"), a.min_cost_savings) {
            adv.min_cost_savings = v;
        }
        if !explicit.given("budget") && adv.budget.is_none() {
            adv.budget = a
                .budget
                .as_deref()
                .and_then(|b| crate::cli::parse_size(b).ok());
        }
        if let (false, Some(v)) = (
            explicit.given("max_indexes_per_table"),
            a.max_indexes_per_table,
        ) {
            adv.max_indexes_per_table = v;
        }
        if let (false, Some(verify)) = (explicit.given("no_verify"), a.verify) {
            adv.no_verify = !verify;
        }
        if !explicit.given("queries") {
            adv.queries.extend(a.queries.iter().cloned());
        }
        if !explicit.given("queries_file") && adv.queries_file.is_none() {
            adv.queries_file = a.queries_file.clone();
        }
        if !explicit.given("include_tables") {
            adv.include_tables.extend(a.include_tables.iter().cloned());
        }
        if !explicit.given("exclude_tables") {
            adv.exclude_tables.extend(a.exclude_tables.iter().cloned());
        }
        if let (false, Some(v)) = (explicit.given("drop_unused"), a.drop_unused) {
            adv.drop_unused = v;
        }
        // Ignored tables get no proposals, whatever the command line says.
        adv.exclude_tables
            .extend(self.ignore.tables.iter().cloned());
        let o = &self.output;
        if !explicit.given("format") {
            if let Some(f) = o
                .format
                .as_deref()
                .and_then(|f| crate::cli::OutputFormat::from_str(f, true).ok())
            {
                args.format = f;
            }
        }
        if !explicit.given("report") && args.report.is_none() {
            args.report = o.report.clone();
        }
        if !explicit.given("pr_body") && args.pr_body.is_none() {
            args.pr_body = o.pr_body.clone();
        }
        if !explicit.given("save_snapshot") && args.save_snapshot.is_none() {
            args.save_snapshot = o.save_snapshot.clone();
        }
    }

    /// Fills the audit flags the command line did not give from the file.
    pub fn apply_to_audit(&self, args: &mut crate::cli::AuditArgs, explicit: &Explicit) {
        self.apply_to_scan(&mut args.scan, explicit);
        let a = &self.audit;
        if args.fail_on.is_none() {
            args.fail_on = a
                .fail_on
                .as_deref()
                .and_then(|f| crate::emit::audit::parse_severity(f).ok());
        }
        if args.baseline.is_none() {
            args.baseline = a.baseline.clone();
        }
        if args.write_baseline.is_none() {
            args.write_baseline = a.write_baseline.clone();
        }
    }

    /// The missing-index severity thresholds, the file's where it sets them.
    pub fn missing_index_thresholds(&self) -> crate::emit::audit::MissingIndexThresholds {
        let mut t = crate::emit::audit::MissingIndexThresholds::default();
        let f = &self.thresholds;
        if let Some(v) = f.missing_index_high_share {
            t.high_share = v;
        }
        if let Some(v) = f.missing_index_medium_share {
            t.medium_share = v;
        }
        if let Some(d) = f
            .missing_index_critical_time
            .as_deref()
            .and_then(|d| crate::cli::parse_duration(d).ok())
        {
            t.critical_ms = d.as_secs_f64() * 1000.0;
        }
        t
    }
}

#[cfg(test)]
mod apply_tests {
    use super::*;
    use crate::cli::{Cli, Command, OutputFormat};
    use clap::{CommandFactory, FromArgMatches};

    fn parse(args: &[&str]) -> (Cli, Explicit) {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        (cli, Explicit::from_matches(&matches))
    }

    #[test]
    fn the_file_fills_what_the_command_line_left_out() {
        let config = Config::parse(
            "quiet = true\n[output]\nformat = \"sarif\"\nreport = \"r.html\"\n\
             [advisor]\ntop = 7\nmin_calls = 9\nverify = false\nexclude_tables = [\"audit_log\"]\n\
             [connection]\nlock_timeout = \"3s\"\n[audit]\nfail_on = \"medium\"\n\
             [ignore]\ntables = [\"scratch\"]\nrules = [\"pool-oversized\"]\n\
             [thresholds]\nmissing_index_high_share = 0.2\nmissing_index_critical_time = \"2h\"\n\
             [migrations]\nformat = \"sqlx\"\ndir = \"db/migrations\"\n[demo]\nout_dir = \"demo\"\n",
        )
        .unwrap();
        let (cli, explicit) = parse(&["pgadvise", "audit", "--top", "3", "--format", "json"]);
        let Command::Audit(mut args) = cli.command else {
            panic!("audit expected")
        };
        config.apply_to_audit(&mut args, &explicit);
        assert_eq!(args.scan.advisor.top, 3, "the command line wins");
        assert_eq!(
            args.scan.format,
            OutputFormat::Json,
            "the command line wins"
        );
        assert_eq!(args.scan.advisor.min_calls, 9);
        assert!(args.scan.advisor.no_verify);
        assert_eq!(args.scan.advisor.exclude_tables, ["audit_log", "scratch"]);
        assert_eq!(args.scan.connection.lock_timeout, Duration::from_secs(3));
        assert_eq!(args.scan.report, Some(PathBuf::from("r.html")));
        assert_eq!(
            args.fail_on,
            Some(crate::analyze::finding::Severity::Medium)
        );
        let t = config.missing_index_thresholds();
        assert_eq!(t.high_share, 0.2);
        assert_eq!(t.critical_ms, 7_200_000.0);

        let (cli, explicit) = parse(&["pgadvise", "scan"]);
        let Command::Scan(mut args) = cli.command else {
            panic!("scan expected")
        };
        config.apply_to_scan(&mut args, &explicit);
        assert_eq!(args.format, OutputFormat::Sarif);
        assert_eq!(args.advisor.top, 7);

        let with_url =
            Config::parse("[connection]\ndatabase_url = \"postgresql://u@h/db\"\n").unwrap();
        let (cli, explicit) = parse(&["pgadvise", "scan"]);
        let Command::Scan(mut args) = cli.command else {
            panic!("scan expected")
        };
        with_url.apply_to_scan(&mut args, &explicit);
        let expected = match std::env::var_os("DATABASE_URL") {
            None => Some("postgresql://u@h/db"),
            Some(_) => None, // DATABASE_URL wins; ConnectionSpec reads it later
        };
        assert_eq!(args.connection.explicit(), expected);
        let (cli, explicit) = parse(&["pgadvise", "scan", "postgresql://other@h/db"]);
        let Command::Scan(mut args) = cli.command else {
            panic!("scan expected")
        };
        with_url.apply_to_scan(&mut args, &explicit);
        assert_eq!(args.connection.explicit(), Some("postgresql://other@h/db"));
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("[output]\nformat = \"xml\"\n", "[output] format"),
            ("[audit]\nfail_on = \"urgent\"\n", "[audit] fail_on"),
            ("[connection]\nlock_timeout = \"soon\"\n", "lock_timeout"),
            ("[advisor]\nmin_cost_savings = 120.0\n", "min_cost_savings"),
            (
                "[thresholds]\nmissing_index_high_share = 5.0\n",
                "missing_index_high_share",
            ),
            ("[ignore]\nindexes = []\n", "indexes"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn an_unknown_ignored_rule_is_named_with_the_valid_ones() {
        let err = Config::parse("[ignore]\nrules = [\"unindexed-foreign-key\"]\n").unwrap_err();
        for needle in [
            "rules",
            "unindexed-foreign-key",
            "fk-without-index",
            "pool-saturated",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
