//! Index proposals from the workload: one candidate per table access, merged
//! across statements that share a prefix, partial where every statement
//! implies the predicate, dropped where an existing valid index serves it.
//!
//! Pure: the proposals are heuristic here; `verify` keeps only those the
//! planner uses and that pay.

pub mod brin;
pub mod candidate;
pub mod evidence;
pub mod method;
pub mod operator_class;
pub mod render;
mod search;
pub mod serve;
pub mod size;
pub mod space;

use crate::analyze::workload::Workload;
pub use crate::analyze::workload::{HotStatements, HotThreshold};
use crate::snapshot::{QualifiedName, Snapshot, Statement, Table};
use candidate::{
    indexes_for_access, AccessIndex, CandidateKey, KeyRole, KeyTarget, PartialPredicate,
};
pub use method::AccessMethod;
use serde::Serialize;
use serve::{serves, IndexForm};

/// A partial predicate is kept only if it leaves out at least this share of rows.
const PARTIAL_MAX_FRACTION: f64 = 0.95;

/// Tables the advisor may propose indexes on: `schema.table` or a bare name
/// that matches in any schema. Empty `include` means every table.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl TableFilter {
    pub fn admits(&self, table: &QualifiedName) -> bool {
        let matches = |pattern: &String| match pattern.split_once('.') {
            Some((schema, name)) => schema == table.schema && name == table.name,
            None => *pattern == table.name,
        };
        (self.include.is_empty() || self.include.iter().any(matches))
            && !self.exclude.iter().any(matches)
    }
}

/// A proposed index, as `scan --format json` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexProposal {
    /// `schema.table`.
    pub table: String,
    /// Column names or expressions; a descending key is written `"created_at DESC"`.
    pub columns: Vec<String>,
    pub include: Vec<String>,
    #[serde(rename = "where")]
    pub predicate: Option<String>,
    pub method: AccessMethod,
    pub name: String,
    pub ddl: String,
    /// hypopg confirmed the planner uses it and it pays.
    pub verified: bool,
    /// Why the proposal could not be verified with hypothetical indexes
    /// (hypopg cannot build GIN or GiST), with the evidence pgadvise has
    /// instead; `pgadvise verify` checks it after deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// Extensions the index needs that the database does not have (`pg_trgm`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    pub cost_before: Option<f64>,
    pub cost_after: Option<f64>,
    pub estimated_size_bytes: i64,
    /// The same index without its partial predicate, for comparison.
    pub full_index_size_bytes: i64,
    /// Share of the table's rows the partial predicate keeps (pg_stats).
    pub predicate_fraction: Option<f64>,
    pub queryids: Vec<i64>,
    pub queries: Vec<String>,
    /// calls x mean time of the statements it serves (ms): the ranking weight.
    pub workload_time_ms: f64,
    /// Estimated time saved (ms): workload time x cost reduction, when verified.
    pub estimated_time_saved_ms: Option<f64>,
    /// What the workload (Σ calls × generic-plan cost) would lose without this
    /// index, the rest of the verified set staying: its own share of the saving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marginal_cost_saving: Option<f64>,
    /// Other proposed indexes the same statements' plans read through: the
    /// saving on those statements is theirs jointly (a join's two sides, an OR's branches).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub served_with: Vec<String>,
    pub reason: String,
    /// What the index costs on every write to its table, since the statistics were reset.
    pub write_cost: Option<WriteCost>,
    /// The hypopg form of the index, for verification.
    #[serde(skip)]
    pub hypothetical_sql: String,
    /// The hypopg form without the partial predicate, to measure the full index.
    #[serde(skip)]
    pub hypothetical_full_sql: Option<String>,
    #[serde(skip)]
    pub key_count: usize,
    /// The keys and partial predicates, structured (for migration formats that
    /// describe an index rather than run SQL: Rails, Django, Alembic).
    #[serde(skip)]
    pub key_specs: Vec<CandidateKey>,
    /// What each key is for (equality, sort, range), for the reason text.
    #[serde(skip)]
    pub key_roles: Vec<KeyRole>,
    #[serde(skip)]
    pub partial: Vec<PartialPredicate>,
    /// The table, as its parts (for DDL on partitions).
    #[serde(skip)]
    pub table_name: QualifiedName,
    /// The definition after the table: `USING btree (...) [INCLUDE (...)] [WHERE ...]`.
    #[serde(skip)]
    pub definition_tail: String,
    /// BRIN's pages_per_range, stated in the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages_per_range: Option<u32>,
    /// Per statement, what verification saw the planner do with the index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<ExpectedPlan>,
    /// Unverified (GIN, GiST) only: per statement, the share of the table's
    /// rows its generic plan expects the filter to keep, from the baseline
    /// plans of the what-if session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub estimated_selectivity: Vec<evidence::FilterEstimate>,
}

/// How one statement's generic plan changed with the index (hypopg's estimate).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ExpectedPlan {
    pub queryid: i64,
    pub query: String,
    pub cost_before: f64,
    pub cost_after: f64,
    /// The node reading through the index: `Index Scan`, `Index Only Scan`,
    /// `Bitmap Index Scan` (with `Backward` where the scan runs backward);
    /// `None` when the planner does not use it for this statement.
    pub node: Option<String>,
}

/// The table's write traffic: every insert, and every non-HOT update, must also
/// update the new index (a new index on an updated column also ends HOT updates there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteCost {
    pub inserts: i64,
    pub updates: i64,
    pub deletes: i64,
    /// Share of updates that were HOT (no index maintenance).
    pub hot_update_ratio: Option<f64>,
}

impl WriteCost {
    /// The writes to `table` since its statistics were reset, over its leaf
    /// partitions for a partitioned table (the parent itself counts none);
    /// `None` without statistics.
    pub fn of(snapshot: &Snapshot, table: &QualifiedName) -> Option<WriteCost> {
        WriteCost::over(&snapshot.leaf_tables(table))
    }

    /// The writes to these tables together; `None` when none has statistics.
    pub fn over(tables: &[&Table]) -> Option<WriteCost> {
        let stats: Vec<&crate::snapshot::TableStats> =
            tables.iter().filter_map(|t| t.stats.as_ref()).collect();
        if stats.is_empty() {
            return None;
        }
        let sum = |f: fn(&crate::snapshot::TableStats) -> i64| stats.iter().map(|s| f(s)).sum();
        let updates: i64 = sum(|s| s.n_tup_upd);
        let hot: i64 = sum(|s| s.n_tup_hot_upd);
        Some(WriteCost {
            inserts: sum(|s| s.n_tup_ins),
            updates,
            deletes: sum(|s| s.n_tup_del),
            hot_update_ratio: (updates > 0).then(|| hot as f64 / updates as f64),
        })
    }

    /// Rows moved to another place in the table: non-HOT updates and deletes.
    pub fn moved_rows(&self) -> i64 {
        let hot = (self.updates as f64 * self.hot_update_ratio.unwrap_or(0.0)).round() as i64;
        (self.updates - hot).max(0) + self.deletes
    }
}

/// A candidate an existing index already serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServedByExisting {
    pub table: String,
    pub columns: Vec<String>,
    pub existing_index: String,
    pub queryids: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexAdvice {
    pub proposals: Vec<IndexProposal>,
    pub served_by_existing: Vec<ServedByExisting>,
}

impl IndexProposal {
    /// The index this proposal defines, as the candidate builders see it.
    pub fn access_index(&self) -> AccessIndex {
        AccessIndex {
            table: self.table_name.clone(),
            keys: self.key_specs.clone(),
            roles: self.key_roles.clone(),
            predicates: self.partial.clone(),
            include: self.include.clone(),
            method: self.method,
            pages_per_range: self.pages_per_range,
        }
    }
}

/// A candidate while merging: the index and the statements it serves.
#[derive(Debug, Clone)]
struct Merged<'a> {
    index: AccessIndex,
    statements: Vec<&'a Statement>,
}

pub fn propose(
    snapshot: &Snapshot,
    workload: &Workload,
    hot: &HotStatements,
    tables: &TableFilter,
) -> IndexAdvice {
    let hot_statements = hot_statements(workload, hot);
    let table_of = |name: &QualifiedName| snapshot.table(&name.schema, &name.name);

    // One candidate per access, with partial predicates kept only where pg_stats
    // says they leave rows out (or cannot tell).
    let mut candidates: Vec<Merged> = Vec::new();
    for analyzed in &hot_statements {
        for access in &analyzed.shape.accesses {
            if !tables.admits(&access.table) {
                continue;
            }
            let Some(table) = table_of(&access.table) else {
                continue;
            };
            for index in indexes_for_access(access, table, snapshot.database_collation.as_deref()) {
                let mut index = brin::or_btree(index, snapshot);
                index.predicates.retain(|p| {
                    size::predicate_fraction(table, p).is_none_or(|f| f <= PARTIAL_MAX_FRACTION)
                });
                candidates.push(Merged {
                    index,
                    statements: vec![analyzed.statement],
                });
            }
        }
    }

    let merged = merge(candidates);

    let mut advice = IndexAdvice::default();
    let mut taken: Vec<String> = snapshot.indexes.iter().map(|i| i.name.clone()).collect();
    taken.extend(snapshot.tables.iter().map(|t| t.name.clone()));
    for m in merged {
        let Some(table) = table_of(&m.index.table) else {
            continue;
        };
        let existing = snapshot
            .indexes_of(&m.index.table)
            .find(|i| serve::existing_serves(i, &m.index));
        let mut queryids: Vec<i64> = m.statements.iter().map(|s| s.queryid).collect();
        queryids.sort_unstable();
        queryids.dedup();
        if let Some(index) = existing {
            advice.served_by_existing.push(ServedByExisting {
                table: m.index.table.to_string(),
                columns: m.index.keys.iter().map(render::key_label).collect(),
                existing_index: index.name.clone(),
                queryids,
            });
            continue;
        }
        let name = render::index_name_using(
            m.index.method,
            &m.index.table,
            &m.index.keys,
            &m.index.predicates,
            &|n| taken.iter().any(|t| t == n),
        );
        taken.push(name.clone());
        advice
            .proposals
            .push(proposal(snapshot, table, &m, name, queryids));
    }
    search::propose(snapshot, &hot_statements, tables, &mut taken, &mut advice);
    advice.proposals.sort_by(|a, b| {
        b.workload_time_ms
            .partial_cmp(&a.workload_time_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.name.cmp(&b.name))
    });
    advice
}

/// The statements the advisor works for: at most `hot.top`, heaviest total
/// time first. Statements given on the command line count whatever their
/// (absent) statistics.
pub(crate) fn hot_statements<'w, 'a>(
    workload: &'w Workload<'a>,
    hot: &HotStatements,
) -> Vec<&'w crate::analyze::workload::AnalyzedStatement<'a>> {
    let mut hot_statements: Vec<_> = workload
        .analyzed
        .iter()
        .filter(|a| a.given || hot.admits(a.statement))
        .collect();
    hot_statements.sort_by(|a, b| {
        b.statement
            .total_exec_time
            .partial_cmp(&a.statement.total_exec_time)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.statement.queryid.cmp(&b.statement.queryid))
    });
    hot_statements.truncate(hot.top);
    hot_statements
}

fn proposal(
    snapshot: &Snapshot,
    table: &Table,
    m: &Merged,
    name: String,
    queryids: Vec<i64>,
) -> IndexProposal {
    let keys = &m.index.keys;
    let predicates = &m.index.predicates;
    // A partitioned parent has a count of its own only once ANALYZE ran on
    // it (reltuples -1 before): its partitions' otherwise.
    let rows = if table.reltuples > 0.0 {
        table.reltuples
    } else {
        snapshot
            .leaf_tables(&m.index.table)
            .iter()
            .map(|t| t.reltuples.max(0.0))
            .sum()
    };
    let fraction = predicates
        .iter()
        .map(|p| size::predicate_fraction(table, p))
        .try_fold(1.0, |acc, f| f.map(|f| acc * f));
    let include = &m.index.include;
    let storage = render::Storage {
        method: m.index.method,
        pages_per_range: m.index.pages_per_range,
    };
    let btree_bytes = size::estimate_bytes(table, keys, include, rows);
    let full = match m.index.pages_per_range {
        Some(pages) if m.index.method == AccessMethod::Brin => {
            let table_pages = snapshot
                .leaf_tables(&m.index.table)
                .iter()
                .map(|t| t.relpages.max(0))
                .sum();
            brin::estimate_bytes(table_pages, pages)
        }
        _ => btree_bytes,
    };
    let estimated = match (predicates.is_empty(), fraction) {
        (false, Some(f)) if m.index.method == AccessMethod::Btree => {
            size::estimate_bytes(table, keys, include, rows * f)
        }
        _ => full,
    };
    let workload_time_ms: f64 = m
        .statements
        .iter()
        .map(|s| s.calls as f64 * s.mean_exec_time)
        .sum();
    let mut queries: Vec<String> = m.statements.iter().map(|s| s.query.clone()).collect();
    queries.dedup();
    let reason = reason_on(snapshot, table, &m.index, m.statements.len());
    IndexProposal {
        table: m.index.table.to_string(),
        columns: keys.iter().map(render::key_label).collect(),
        include: include.clone(),
        predicate: render::predicate_sql(predicates),
        method: m.index.method,
        verification: None,
        requires: Vec::new(),
        pages_per_range: m.index.pages_per_range,
        ddl: render::create_index_sql_using(
            storage,
            &name,
            &m.index.table,
            keys,
            include,
            predicates,
        ),
        hypothetical_sql: render::hypothetical_index_sql_using(
            storage,
            &m.index.table,
            keys,
            include,
            predicates,
        ),
        hypothetical_full_sql: (!predicates.is_empty()).then(|| {
            render::hypothetical_index_sql_using(storage, &m.index.table, keys, include, &[])
        }),
        name,
        verified: false,
        cost_before: None,
        cost_after: None,
        estimated_size_bytes: estimated,
        full_index_size_bytes: full,
        predicate_fraction: if predicates.is_empty() {
            None
        } else {
            fraction
        },
        queryids,
        queries,
        workload_time_ms,
        estimated_time_saved_ms: None,
        marginal_cost_saving: None,
        served_with: Vec::new(),
        reason,
        write_cost: WriteCost::of(snapshot, &m.index.table),
        key_count: keys.len(),
        key_specs: keys.clone(),
        key_roles: m.index.roles.clone(),
        partial: predicates.clone(),
        table_name: m.index.table.clone(),
        definition_tail: render::definition_tail_using(storage, keys, include, predicates),
        plans: Vec::new(),
        estimated_selectivity: Vec::new(),
    }
}

/// Why `index` on `table`, for `statements` statements: its keys' roles,
/// the partial predicate, the INCLUDE columns, and for a BRIN why the column
/// suits one.
pub(crate) fn reason_on(
    snapshot: &Snapshot,
    table: &Table,
    index: &AccessIndex,
    statements: usize,
) -> String {
    let mut text = reason(&index.keys, &index.roles, &index.predicates, statements);
    text.push_str(&covering_note(table, &index.include));
    if let (
        AccessMethod::Brin,
        [CandidateKey {
            key: KeyTarget::Column(c),
            ..
        }],
    ) = (index.method, index.keys.as_slice())
    {
        if let Some(fit) = brin::fit(&snapshot.leaf_tables(&index.table), c) {
            let btree = size::estimate_bytes(table, &index.keys, &[], fit.rows);
            text.push_str("; ");
            text.push_str(&brin::reason(&fit, c, btree));
        }
    }
    text
}

/// What the reason adds for INCLUDE columns (empty without them).
pub(crate) fn covering_note(table: &Table, include: &[String]) -> String {
    if include.is_empty() {
        return String::new();
    }
    format!(
        "; INCLUDE ({}) so an index-only scan answers it without the heap \
         ({:.0}% of the table's pages are all-visible)",
        include.join(", "),
        100.0 * table.all_visible_fraction().unwrap_or(0.0)
    )
}

pub(crate) fn reason(
    keys: &[CandidateKey],
    roles: &[KeyRole],
    predicates: &[PartialPredicate],
    statements: usize,
) -> String {
    let names = |role: KeyRole| {
        keys.iter()
            .zip(roles)
            .filter(|(_, r)| **r == role)
            .map(|(k, _)| render::key_label(k))
            .collect::<Vec<_>>()
    };
    let mut parts = Vec::new();
    let eq = names(KeyRole::Equality);
    if !eq.is_empty() {
        parts.push(format!("equality on {}", eq.join(", ")));
    }
    // "then" only after the equalities it follows.
    let then = |parts: &Vec<String>| if parts.is_empty() { "" } else { "then " };
    let sort = names(KeyRole::Sort);
    if !sort.is_empty() {
        parts.push(format!(
            "{}the ORDER BY ({}) without a sort",
            then(&parts),
            sort.join(", ")
        ));
    }
    let range = names(KeyRole::Range);
    if !range.is_empty() {
        parts.push(format!("{}the range on {}", then(&parts), range.join(", ")));
    }
    if let Some(p) = render::predicate_sql(predicates) {
        parts.push(format!(
            "only rows WHERE {p}, which every statement requires"
        ));
    }
    format!(
        "{} statement{}: {}",
        statements,
        if statements == 1 { "" } else { "s" },
        parts.join("; ")
    )
}

/// Merges candidates on the same table with the same partial predicate when
/// one serves the other (a prefix, equality columns in any order): one index
/// serving several statements beats several near-copies.
fn merge(candidates: Vec<Merged>) -> Vec<Merged> {
    let mut sorted = candidates;
    // Longest first, so shorter candidates fold into the index that covers them.
    sorted.sort_by(|a, b| {
        b.index
            .keys
            .len()
            .cmp(&a.index.keys.len())
            .then_with(|| a.index.table.cmp(&b.index.table))
    });
    let mut kept: Vec<Merged> = Vec::new();
    for c in sorted {
        let host = kept.iter_mut().find(|k| {
            k.index.table == c.index.table
                && k.index.method == c.index.method
                && k.index.predicates == c.index.predicates
                && serves(
                    &IndexForm::of_candidate(&k.index.keys, &k.index.predicates),
                    &c.index.keys,
                    &c.index.roles,
                    &c.index.predicates,
                )
        });
        match host {
            Some(k) => k.statements.extend(c.statements),
            None => kept.push(c),
        }
    }
    kept
}

#[cfg(test)]
mod tests;
