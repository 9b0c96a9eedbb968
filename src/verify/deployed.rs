//! `pgadvise verify`: after the migrations ran, is each index there, valid and
//! ready, and does each statement it is for plan through it? Reads the
//! `.verify.json` plans `scan --out` wrote; plans with the real schema (no
//! hypopg), generic plans as in verification.

use super::outcome::{IndexCheck, IndexState, QueryCheck, QueryOutcome};
use super::{PlanSummary, VerifyError, WhatIf};
use crate::snapshot::QualifiedName;
use crate::verification_plan::{VerificationPlan, VERIFY_PLAN_FORMAT_VERSION};
use crate::verify::proposals::index_node;
use std::path::{Path, PathBuf};

/// Why the plans could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a pgadvise verification plan: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: verification plan format {found}, this pgadvise reads {expected}", path.display())]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("no verification plans (*.verify.json) in {}: give the folder `pgadvise scan --out` wrote its migrations to (default migrations-out), or run `pgadvise scan --out {}` first", dir.display(), dir.display())]
    None { dir: PathBuf },
}

/// Every `*.verify.json` of `dir`, in file-name order (migration order).
pub fn read_plans(dir: &Path) -> Result<Vec<VerificationPlan>, PlanFileError> {
    let read_err = |source| PlanFileError::Read {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        // A missing folder is the common mistake: the same advice as an empty one.
        return Err(PlanFileError::None {
            dir: dir.to_path_buf(),
        });
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".verify.json"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(PlanFileError::None {
            dir: dir.to_path_buf(),
        });
    }
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|source| PlanFileError::Read {
                path: path.clone(),
                source,
            })?;
            let plan: VerificationPlan =
                serde_json::from_str(&text).map_err(|source| PlanFileError::Parse {
                    path: path.clone(),
                    source,
                })?;
            let expected = VERIFY_PLAN_FORMAT_VERSION;
            if plan.format_version != expected {
                return Err(PlanFileError::Version {
                    path,
                    found: plan.format_version,
                    expected,
                });
            }
            Ok(plan)
        })
        .collect()
}

/// The catalog state of an index, by qualified name.
pub async fn index_state(
    whatif: &WhatIf,
    index: &QualifiedName,
) -> Result<IndexState, VerifyError> {
    let rows = whatif
        .client()
        .query(
            &format!(
                "SELECT {} i.indisvalid, i.indisready FROM pg_catalog.pg_index i \
                 JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
                crate::collect::SQL_TAG
            ),
            &[&index.schema, &index.name],
        )
        .await
        .map_err(|e| VerifyError::query(format!("reading pg_index for {index}"), &e))?;
    Ok(match rows.first() {
        None => IndexState::Missing,
        Some(row) => {
            let valid: bool = row.get(0);
            let ready: bool = row.get(1);
            match (valid, ready) {
                (false, _) => IndexState::Invalid,
                (true, false) => IndexState::NotReady,
                (true, true) => IndexState::Ready,
            }
        }
    })
}

/// Checks one migration's index and statements.
pub async fn check(whatif: &WhatIf, plan: &VerificationPlan) -> Result<IndexCheck, VerifyError> {
    let state = index_state(whatif, &plan.index).await?;
    let mut bad_partitions = Vec::new();
    for p in &plan.partition_indexes {
        let s = index_state(whatif, p).await?;
        if s != IndexState::Ready {
            bad_partitions.push((p.clone(), s));
        }
    }
    let fix = fix_for(plan, state, &bad_partitions);
    let names = plan.index_names();
    let checked: Vec<_> = plan
        .queries
        .iter()
        .filter(|q| q.expected_node.is_some())
        .collect();
    let texts: Vec<&str> = checked.iter().map(|q| q.query.as_str()).collect();
    let plans = whatif.plan_many(&texts).await;
    let mut results = plans.into_iter();
    let mut queries = Vec::new();
    for q in &plan.queries {
        let mut check = QueryCheck {
            queryid: q.queryid,
            query: q.query.clone(),
            outcome: QueryOutcome::Skip,
            node: None,
            cost: None,
            expected_node: q.expected_node.clone(),
            estimated_cost_after: q.cost_after,
            cost_before: q.cost_before,
            detail: None,
            measurement: None,
        };
        if q.expected_node.is_some() {
            match results.next() {
                Some(Ok(summary)) => judge(&mut check, &summary, &names),
                Some(Err(e)) => {
                    check.outcome = QueryOutcome::Fail;
                    check.detail = Some(format!("could not plan it: {e}"));
                }
                None => check.outcome = QueryOutcome::Fail,
            }
        } else {
            check.detail =
                Some("verification found the planner does not use the index for it".to_string());
        }
        queries.push(check);
    }
    Ok(IndexCheck {
        migration: plan.migration.clone(),
        index: plan.index.clone(),
        state,
        bad_partitions,
        fix,
        queries,
    })
}

fn judge(check: &mut QueryCheck, summary: &PlanSummary, names: &[&str]) {
    check.cost = Some(summary.total_cost);
    let node = names.iter().find_map(|n| {
        index_node(&summary.nodes, n).map(|kind| {
            if kind.starts_with("Bitmap") {
                format!("{kind} on {n}")
            } else {
                format!("{kind} using {n}")
            }
        })
    });
    match node {
        Some(node) => {
            check.outcome = QueryOutcome::Pass;
            check.node = Some(node);
        }
        None => {
            check.outcome = QueryOutcome::Fail;
            check.detail = Some(format!(
                "the plan does not use it: {}",
                summary.nodes.join(" > ")
            ));
        }
    }
}

fn fix_for(
    plan: &VerificationPlan,
    state: IndexState,
    bad_partitions: &[(QualifiedName, IndexState)],
) -> Option<String> {
    let migration = &plan.migration;
    match state {
        IndexState::Missing => Some(format!(
            "the index does not exist: run migration {migration} (or check you are connected to the right database)"
        )),
        IndexState::Invalid | IndexState::NotReady if plan.partition_indexes.is_empty() => {
            Some(format!(
                "the index is INVALID (a failed or interrupted CREATE INDEX CONCURRENTLY); \
                 IF NOT EXISTS will not rebuild it. Drop it and run migration {migration} again:\n  \
                 DROP INDEX CONCURRENTLY IF EXISTS {};",
                plan.index
            ))
        }
        _ if !bad_partitions.is_empty() => Some(format!(
            "partition indexes missing or INVALID: {}. Drop the invalid ones with DROP INDEX CONCURRENTLY IF EXISTS <index>; \
             and run migration {migration} again (it builds and attaches what is missing).",
            bad_partitions
                .iter()
                .map(|(i, s)| format!("{i} ({})", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        IndexState::Invalid | IndexState::NotReady => Some(format!(
            "the partitioned index is INVALID: a partition's index is not attached yet. Run migration {migration} again."
        )),
        IndexState::Ready => None,
    }
}
