//! pg_stat_statements, read with the columns its installed version has.

use super::server::Identity;
use super::{iso, CollectError, CollectOptions, SQL_TAG};
use crate::ident;
use crate::snapshot::{Extension, Setting, Statement, StatementStats};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Column names that changed between extension versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementColumns {
    exec_prefix: &'static str,
    has_planning: bool,
    has_toplevel: bool,
    has_wal: bool,
    has_info_view: bool,
    read_time: &'static str,
}

/// Whether a comma-separated library list (shared_preload_libraries) names `library`.
fn lists_library(list: &str, library: &str) -> bool {
    list.split(',')
        .any(|lib| lib.trim().trim_matches('"') == library)
}

/// Parses an extension version such as `1.10` into (1, 10).
pub(crate) fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// Which columns exist in a given pg_stat_statements version:
/// 1.8 (PG 13) split total_time into exec/plan and added WAL counters,
/// 1.9 (PG 14) added `toplevel` and pg_stat_statements_info,
/// 1.11 (PG 17) renamed blk_read_time to shared_blk_read_time.
pub(crate) fn columns_for(version: (u32, u32)) -> StatementColumns {
    let at_least = |minor: u32| version.0 > 1 || (version.0 == 1 && version.1 >= minor);
    StatementColumns {
        exec_prefix: if at_least(8) { "_exec_time" } else { "_time" },
        has_planning: at_least(8),
        has_toplevel: at_least(9),
        has_wal: at_least(8),
        has_info_view: at_least(9),
        read_time: if at_least(11) {
            "shared_blk_read_time"
        } else {
            "blk_read_time"
        },
    }
}

/// The SELECT list and filters for one version; hidden texts are counted, not returned.
pub(crate) fn statements_sql(view: &str, cols: &StatementColumns) -> String {
    let t = |stat: &str| format!("{stat}{}", cols.exec_prefix);
    let planning = if cols.has_planning {
        "plans, total_plan_time"
    } else {
        "NULL::int8, NULL::float8"
    };
    let toplevel = if cols.has_toplevel {
        "toplevel"
    } else {
        "NULL::bool"
    };
    let wal = if cols.has_wal {
        "wal_records, wal_bytes::float8"
    } else {
        "NULL::int8, NULL::float8"
    };
    let toplevel_filter = if cols.has_toplevel {
        " AND toplevel"
    } else {
        ""
    };
    format!(
        "SELECT {SQL_TAG} queryid, pg_get_userbyid(userid)::text, query, {toplevel}, calls, \
         {total}, {mean}, {min}, {max}, {stddev}, {planning}, rows, \
         shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written, \
         temp_blks_read, temp_blks_written, {read_time}, {wal} \
         FROM {view} \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND queryid IS NOT NULL{toplevel_filter} \
         ORDER BY {total} DESC, queryid",
        total = t("total"),
        mean = t("mean"),
        min = t("min"),
        max = t("max"),
        stddev = t("stddev"),
        read_time = cols.read_time,
    )
}

/// The one warning for a scan that goes on without pg_stat_statements (the
/// statements it analyzes were given): what was not read, and the one-line fix.
fn workload_not_read(err: &CollectError) -> String {
    let fix = match err {
        CollectError::StatementsNotPreloaded {
            suggested,
            database,
            ..
        } => format!(
            "pg_stat_statements is not in shared_preload_libraries; to read the workload, as a superuser: \
             ALTER SYSTEM SET shared_preload_libraries = '{suggested}'; restart the server, then \
             CREATE EXTENSION IF NOT EXISTS pg_stat_statements; in database \"{database}\""
        ),
        CollectError::StatementsNotCreated { database } => format!(
            "pg_stat_statements is not created in database \"{database}\"; to read the workload: \
             CREATE EXTENSION IF NOT EXISTS pg_stat_statements; (no restart needed)"
        ),
        other => other.to_string().lines().next().unwrap_or_default().to_string(),
    };
    format!(
        "the workload itself was not read, only the statements given with --query or --queries-file \
         are analyzed: {fix}"
    )
}

pub(crate) async fn read(
    client: &Client,
    identity: &Identity,
    settings: &BTreeMap<String, Setting>,
    extensions: &[Extension],
    options: &CollectOptions,
    warnings: &mut Vec<String>,
) -> Result<StatementStats, CollectError> {
    // shared_preload_libraries is visible only to superusers and members of
    // pg_read_all_settings; when hidden, the server's own error tells instead.
    let preload = settings
        .get("shared_preload_libraries")
        .map(|s| s.setting.clone());
    let not_preloaded = |current: Option<String>| {
        let current = current.unwrap_or_default();
        CollectError::StatementsNotPreloaded {
            suggested: if current.trim().is_empty() {
                "pg_stat_statements".to_string()
            } else {
                format!("{current}, pg_stat_statements")
            },
            current,
            database: identity.database.clone(),
        }
    };
    let unavailable = |err: CollectError, warnings: &mut Vec<String>| {
        if options.require_statements {
            return Err(err);
        }
        warnings.push(workload_not_read(&err));
        Ok(StatementStats {
            extension_version: String::new(),
            max_entries: None,
            dealloc: None,
            stats_reset: None,
            hidden_count: 0,
            entries: Vec::new(),
        })
    };

    let Some(extension) = extensions.iter().find(|e| e.name == "pg_stat_statements") else {
        let err = match preload {
            Some(p) if !lists_library(&p, "pg_stat_statements") => not_preloaded(Some(p)),
            _ => CollectError::StatementsNotCreated {
                database: identity.database.clone(),
            },
        };
        return unavailable(err, warnings);
    };

    let version = parse_version(&extension.version).unwrap_or((1, 8));
    let cols = columns_for(version);
    let view = ident::qualified(&extension.schema, "pg_stat_statements");
    let rows = match client.query(&statements_sql(&view, &cols), &[]).await {
        Ok(rows) => rows,
        // "pg_stat_statements must be loaded via shared_preload_libraries"
        Err(e)
            if e.code()
                == Some(&tokio_postgres::error::SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) =>
        {
            return unavailable(not_preloaded(preload), warnings);
        }
        Err(e) => return Err(CollectError::query("reading pg_stat_statements", e)),
    };
    let entries: Vec<Statement> = rows
        .into_iter()
        .map(|r| Statement {
            queryid: r.get(0),
            user: r.get(1),
            query: super::mask::mask_utility_statement(
                &r.get::<_, Option<String>>(2).unwrap_or_default(),
            ),
            toplevel: r.get(3),
            calls: r.get(4),
            total_exec_time: r.get(5),
            mean_exec_time: r.get(6),
            min_exec_time: r.get(7),
            max_exec_time: r.get(8),
            stddev_exec_time: r.get(9),
            plans: r.get(10),
            total_plan_time: r.get(11),
            rows: r.get(12),
            shared_blks_hit: r.get(13),
            shared_blks_read: r.get(14),
            shared_blks_dirtied: r.get(15),
            shared_blks_written: r.get(16),
            temp_blks_read: r.get(17),
            temp_blks_written: r.get(18),
            shared_blk_read_time: r.get(19),
            wal_records: r.get(20),
            wal_bytes: r.get(21),
        })
        .collect();

    // Without pg_read_all_stats, other roles' entries come back with NULL
    // queryid and '<insufficient privilege>' as text.
    let hidden_count: i64 = client
        .query_one(
            &format!(
                "SELECT {SQL_TAG} count(*) FROM {view} \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND queryid IS NULL"
            ),
            &[],
        )
        .await
        .map_err(|e| CollectError::query("counting hidden pg_stat_statements entries", e))?
        .get(0);
    if hidden_count > 0 {
        // The role always sees its own entries, pgadvise's among them.
        let readable_workload = entries.iter().any(|s| !super::is_own_statement(&s.query));
        if !readable_workload && options.require_statements {
            return Err(CollectError::StatementsHidden {
                role: identity.user.clone(),
                hidden: hidden_count,
            });
        }
        warnings.push(format!(
            "{hidden_count} pg_stat_statements entries of other roles are hidden from role \"{}\" \
             (<insufficient privilege>): GRANT pg_read_all_stats TO \"{}\"; to analyze them",
            identity.user, identity.user
        ));
    }

    let (dealloc, stats_reset) = if cols.has_info_view {
        let info = ident::qualified(&extension.schema, "pg_stat_statements_info");
        let row = client
            .query_one(
                &format!(
                    "SELECT {SQL_TAG} dealloc, {} FROM {info}",
                    iso("stats_reset")
                ),
                &[],
            )
            .await
            .map_err(|e| CollectError::query("reading pg_stat_statements_info", e))?;
        (Some(row.get::<_, i64>(0)), row.get::<_, Option<String>>(1))
    } else {
        (None, None)
    };
    let max_entries = settings
        .get("pg_stat_statements.max")
        .and_then(|s| s.setting.parse::<i64>().ok());
    if let Some(d) = dealloc.filter(|d| *d > 0) {
        warnings.push(format!(
            "pg_stat_statements evicted {d} entries since its last reset (pg_stat_statements.max = {}): \
             the workload picture is partial; consider raising pg_stat_statements.max",
            max_entries.map_or("?".to_string(), |m| m.to_string())
        ));
    }
    if entries.is_empty() {
        warnings.push(
            "pg_stat_statements holds no statements for this database yet: let the workload run, then scan again"
                .into(),
        );
    }

    Ok(StatementStats {
        extension_version: extension.version.clone(),
        max_entries,
        dealloc,
        stats_reset,
        hidden_count,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let cases = [
            ("1.8", Some((1, 8))),
            ("1.10", Some((1, 10))),
            ("1.11", Some((1, 11))),
            ("2", Some((2, 0))),
            ("x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_version(text), expected, "{text}");
        }
    }

    #[test]
    fn columns_follow_the_extension_version() {
        // (version, exec prefix, toplevel, info view, read time column)
        let cases = [
            ((1, 7), "_time", false, false, "blk_read_time"),
            ((1, 8), "_exec_time", false, false, "blk_read_time"),
            ((1, 9), "_exec_time", true, true, "blk_read_time"),
            ((1, 10), "_exec_time", true, true, "blk_read_time"),
            ((1, 11), "_exec_time", true, true, "shared_blk_read_time"),
            ((1, 12), "_exec_time", true, true, "shared_blk_read_time"),
        ];
        for (version, prefix, toplevel, info, read_time) in cases {
            let c = columns_for(version);
            assert_eq!(c.exec_prefix, prefix, "{version:?}");
            assert_eq!(c.has_toplevel, toplevel, "{version:?}");
            assert_eq!(c.has_info_view, info, "{version:?}");
            assert_eq!(c.read_time, read_time, "{version:?}");
        }
    }

    #[test]
    fn a_workload_not_read_is_one_line_with_its_fix() {
        let created = workload_not_read(&CollectError::StatementsNotCreated {
            database: "app".into(),
        });
        let preloaded = workload_not_read(&CollectError::StatementsNotPreloaded {
            current: "auto_explain".into(),
            suggested: "auto_explain, pg_stat_statements".into(),
            database: "app".into(),
        });
        for warning in [&created, &preloaded] {
            assert!(!warning.contains('\n'), "{warning}");
            assert!(
                warning.starts_with("the workload itself was not read"),
                "{warning}"
            );
            assert!(
                warning.contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"),
                "{warning}"
            );
        }
        assert!(!created.contains("ALTER SYSTEM"), "{created}");
        assert!(
            preloaded.contains(
                "ALTER SYSTEM SET shared_preload_libraries = 'auto_explain, pg_stat_statements'; \
                 restart the server"
            ),
            "{preloaded}"
        );
    }

    #[test]
    fn sql_uses_the_versioned_names() {
        let old = statements_sql("public.pg_stat_statements", &columns_for((1, 8)));
        assert!(old.contains("total_exec_time DESC"));
        assert!(old.contains("blk_read_time"));
        assert!(!old.contains("toplevel"));
        let new = statements_sql("x.pg_stat_statements", &columns_for((1, 11)));
        assert!(new.contains("shared_blk_read_time"));
        assert!(new.contains("AND toplevel"));
        assert!(new.starts_with(&format!("SELECT {SQL_TAG}")));
    }
}
