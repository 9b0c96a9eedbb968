//! `--pr-body FILE`: the Markdown description of the pull request that adds
//! the migrations: what each does and why, the numbers, how to check it after
//! the merge, and how to roll it back.
//!
//! Migration files are named by the migration writer (`scan --out`); this text
//! refers to each by its index name, which every format puts in the file name.

use super::report::ScanReport;
use super::text::{bytes, millis, sql_script};
use crate::snapshot::Snapshot;
use std::fmt::Write;

/// `migrations_dir`: where the migrations were written (for the verify command).
pub fn render(snapshot: &Snapshot, report: &ScanReport, migrations_dir: &str) -> String {
    let mut out = String::new();
    let n = report.indexes.len();
    let drops = report.drops.len();
    let mut title = format!("{n} index{}", if n == 1 { "" } else { "es" });
    if drops > 0 {
        let _ = write!(title, ", {drops} drop{}", if drops == 1 { "" } else { "s" });
    }
    let _ = writeln!(
        out,
        "## pgadvise: {title} for `{}`\n",
        snapshot.source.database
    );
    if n == 0 && drops == 0 {
        let _ = writeln!(
            out,
            "No index to add: every hot statement is already served by an index, or none would pay."
        );
        return out;
    }
    if n == 0 {
        render_drops(&mut out, report, migrations_dir);
        footer(&mut out, report);
        return out;
    }
    let verified = report.indexes.iter().all(|p| p.verified);
    let _ = writeln!(
        out,
        "From pg_stat_statements on PostgreSQL {} (read {}): {} statements analyzed. {}\n",
        snapshot.server.version,
        snapshot.collected_at,
        report.statements_analyzed,
        if verified {
            "Each index below was checked with hypopg: the planner uses it and it cuts its statements' cost."
        } else {
            "**These proposals are not verified** (hypopg was not available): review the plans before merging."
        }
    );
    if let Some(v) = report
        .verification
        .as_ref()
        .filter(|v| v.workload_cost_before > 0.0)
    {
        let _ = writeln!(
            out,
            "Together: about {} on disk; workload cost (calls × generic-plan cost) {:.0} → {:.0} (−{:.0}%).\n",
            bytes(v.total_size_bytes),
            v.workload_cost_before,
            v.workload_cost_after,
            (1.0 - v.workload_cost_after / v.workload_cost_before) * 100.0
        );
    }
    let _ = writeln!(
        out,
        "| # | index | table | time saved | plan cost | size |\n| --- | --- | --- | --- | --- | --- |"
    );
    for (i, p) in report.indexes.iter().enumerate() {
        let cost = match (p.cost_before, p.cost_after) {
            (Some(b), Some(a)) if b > 0.0 => {
                format!("{b:.0} → {a:.0} (−{:.0}%)", (1.0 - a / b) * 100.0)
            }
            _ => "unverified".into(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | `{}` | {} | {cost} | {} |",
            i + 1,
            p.name,
            p.table,
            p.estimated_time_saved_ms
                .map(millis)
                .unwrap_or_else(|| format!("≤ {}", millis(p.workload_time_ms))),
            bytes(p.estimated_size_bytes)
        );
    }
    for (i, p) in report.indexes.iter().enumerate() {
        let _ = writeln!(out, "\n### {}. `{}`\n", i + 1, p.name);
        let _ = writeln!(
            out,
            "Migration: the file named after `{}` in `{migrations_dir}/`.\n",
            p.name
        );
        let _ = writeln!(out, "```sql\n{}\n```\n", p.ddl);
        let _ = writeln!(out, "**Why:** {}\n", p.reason);
        if p.predicate.is_some() {
            let _ = writeln!(
                out,
                "Partial index: about {} instead of {} for the same keys without `WHERE`.\n",
                bytes(p.estimated_size_bytes),
                bytes(p.full_index_size_bytes)
            );
        }
        if let Some(w) = &p.write_cost {
            let _ = writeln!(
                out,
                "Write cost: {} inserts, {} updates, {} deletes on `{}` since the statistics were reset also maintain this index.\n",
                w.inserts, w.updates, w.deletes, p.table
            );
        }
        let _ = writeln!(out, "Statements it serves:\n");
        for (id, query, stats) in super::html::served_statements(p, snapshot) {
            let stats = stats
                .map(|s| format!("{} calls, {} mean", s.calls, millis(s.mean_exec_time)))
                .unwrap_or_else(|| "given with --query".into());
            let _ = writeln!(
                out,
                "- queryid `{id}` ({stats}):\n  ```sql\n  {}\n  ```",
                one_line(&query)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n### After the merge\n\n\
         The migrations build each index with `CREATE INDEX CONCURRENTLY`: no write is blocked, \
         but the build takes a while on a large table (follow it in `pg_stat_progress_create_index`). \
         When the migrations have run, check that every index exists, is valid, and is used:\n\n\
         ```sh\npgadvise verify {migrations_dir} \"$DATABASE_URL\"\n```\n\n\
         A build that failed or was cancelled leaves an INVALID index behind; \
         `DROP INDEX CONCURRENTLY IF EXISTS <name>;` and run the migration again.\n\n\
         ### Rollback\n\n\
         Each migration has a down migration that runs `DROP INDEX CONCURRENTLY IF EXISTS` for its index \
         (no data is touched; queries fall back to today's plans). With your migration tool, roll back \
         the migrations named after:\n"
    );
    for p in &report.indexes {
        let _ = writeln!(out, "- `{}`", p.name);
    }
    render_drops(&mut out, report, migrations_dir);
    footer(&mut out, report);
    out
}

/// The drops and rebuilds of the health rules: what, why, and the way back.
fn render_drops(out: &mut String, report: &ScanReport, migrations_dir: &str) {
    if report.drops.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Indexes dropped or rebuilt\n\n\
         Each is its own migration in `{migrations_dir}/`, named `drop_<index>` (or `rebuild_<index>` \
         for an invalid one). None backs a constraint. `DROP INDEX CONCURRENTLY` waits for running \
         transactions on the table but blocks no reads or writes."
    );
    for d in &report.drops {
        let verb = if d.rebuild { "Rebuild" } else { "Drop" };
        let _ = writeln!(
            out,
            "\n#### {verb} `{}` on `{}` ({}, {})\n\n**Why:** {}\n",
            d.index,
            d.table,
            d.rule,
            bytes(d.size_bytes),
            d.reason
        );
        let _ = writeln!(out, "```sql\n{}\n```\n", sql_script(&d.up()));
        if d.rebuild {
            let _ = writeln!(
                out,
                "Rollback: none needed; the index is rebuilt from its own definition."
            );
        } else {
            let _ = writeln!(
                out,
                "Rollback (the down migration builds it again, concurrently):\n\n```sql\n{}\n```",
                sql_script(&d.down())
            );
        }
    }
}

fn footer(out: &mut String, report: &ScanReport) {
    let _ = writeln!(
        out,
        "\n<sub>Generated by pgadvise {}.</sub>",
        report.pgadvise_version
    );
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
