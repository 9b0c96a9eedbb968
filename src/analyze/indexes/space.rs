//! The candidate space of the workload-level selection: every index worth a
//! what-if plan, which statements each one is for, and the sets of them that
//! only pay together (both sides of a join, every branch of an OR).
//!
//! Per table access: the index the heuristic proposes (equality keys, then the
//! sort or one range, partial where every statement implies it), its narrower
//! forms that other statements can share, and for a join the inner side's key.
//! Pure: `verify::select` plans them and chooses.

use super::candidate::{
    covering_form, index_for_join, indexes_for_access, narrower_forms, AccessIndex, KeyTarget,
};
use super::serve::existing_serves;
use super::{brin, hot_statements, proposal, render, size, HotStatements, IndexProposal, Merged};
use super::{TableFilter, PARTIAL_MAX_FRACTION};
use crate::analyze::queries::{IndexKey, TableAccess};
use crate::analyze::workload::Workload;
use crate::snapshot::{QualifiedName, Snapshot, Statement};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Indexes the selection may choose from.
#[derive(Debug, Clone, Default)]
pub struct CandidateSpace {
    /// Distinct candidate indexes; `queryids` are the statements each was built for.
    pub candidates: Vec<IndexProposal>,
    /// What the selection weighs: a candidate alone, or several that only pay together.
    pub units: Vec<CandidateUnit>,
    /// The statements the candidates are for.
    pub statements: Vec<StatementScope>,
}

/// One choice the selection can make: add these candidates together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateUnit {
    /// Positions in [`CandidateSpace::candidates`], sorted.
    pub members: Vec<usize>,
    /// Statements whose plans the unit may change.
    pub queryids: Vec<i64>,
}

/// What the selection needs to know of one statement without planning it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementScope {
    pub queryid: i64,
    /// Tables the statement reads (the parent for a partition).
    pub tables: Vec<QualifiedName>,
    /// One scan of one table, no OR needing several indexes: its plan uses at
    /// most one of the candidates, so its cost under a set of them is the
    /// least of its costs with each alone. Other statements are re-planned
    /// with the whole configuration present.
    pub single_index: bool,
    /// Per table, the columns and expressions an index could lead with for it
    /// (filtered, sorted or joined on): an index leading with anything else
    /// cannot be used by this statement.
    pub leading: Vec<(QualifiedName, Vec<KeyTarget>)>,
}

impl StatementScope {
    /// Whether an index on `table` leading with `key` could serve this statement.
    pub fn could_use(&self, table: &QualifiedName, key: &KeyTarget) -> bool {
        self.leading
            .iter()
            .any(|(t, keys)| t == table && keys.contains(key))
    }

    /// Whether `candidate` could serve this statement: it is on one of its
    /// tables and leads with a column or expression the statement filters,
    /// joins or sorts on there.
    pub fn could_be_served_by(&self, candidate: &IndexProposal) -> bool {
        candidate
            .key_specs
            .first()
            .is_some_and(|k| self.could_use(&candidate.table_name, &k.key))
    }
}

/// Builds the candidate space for the hot statements of `workload`.
pub fn candidate_space(
    snapshot: &Snapshot,
    workload: &Workload,
    hot: &HotStatements,
    tables: &TableFilter,
) -> CandidateSpace {
    let mut builder = Builder {
        snapshot,
        space: CandidateSpace::default(),
        by_form: HashMap::new(),
        statements_of: Vec::new(),
        units: HashMap::new(),
        narrow: Vec::new(),
    };
    for analyzed in hot_statements(workload, hot) {
        builder.add_statement(analyzed.statement, &analyzed.shape.accesses, tables);
    }
    builder.finish()
}

struct Builder<'a> {
    snapshot: &'a Snapshot,
    space: CandidateSpace,
    /// (table, keys, predicates) → position, so a form several statements share is one candidate.
    by_form: HashMap<String, usize>,
    /// Per candidate, the statements it was built for.
    statements_of: Vec<Vec<&'a Statement>>,
    /// members → statements, for units of several candidates.
    units: HashMap<Vec<usize>, BTreeSet<i64>>,
    /// Per candidate: built only as a narrower form (never as some access's own index).
    narrow: Vec<bool>,
}

impl<'a> Builder<'a> {
    fn add_statement(
        &mut self,
        statement: &'a Statement,
        accesses: &[TableAccess],
        filter: &TableFilter,
    ) {
        let snapshot = self.snapshot;
        let mut scope = StatementScope {
            queryid: statement.queryid,
            tables: Vec::new(),
            single_index: accesses.len() == 1,
            leading: Vec::new(),
        };
        // The best filter-driven candidate of each access, for join pairs.
        let mut access_best: Vec<Option<usize>> = Vec::new();
        let mut join_keys: Vec<(usize, usize, Option<usize>)> = Vec::new();
        for (at, access) in accesses.iter().enumerate() {
            if !scope.tables.contains(&access.table) {
                scope.tables.push(access.table.clone());
            }
            scope
                .leading
                .push((access.table.clone(), leading_keys(access)));
            let table = snapshot.table(&access.table.schema, &access.table.name);
            let (Some(table), true) = (table, filter.admits(&access.table)) else {
                access_best.push(None);
                continue;
            };
            let mut indexes: Vec<AccessIndex> =
                indexes_for_access(access, table, snapshot.database_collation.as_deref())
                    .into_iter()
                    .map(|index| brin::or_btree(index, snapshot))
                    .collect();
            for index in &mut indexes {
                index.predicates.retain(|p| {
                    size::predicate_fraction(table, p).is_none_or(|f| f <= PARTIAL_MAX_FRACTION)
                });
            }
            let mut best = None;
            match indexes.len() {
                0 => {}
                1 => {
                    best = self.add(&indexes[0], statement);
                    for form in narrower_forms(&indexes[0]) {
                        self.add_form(&form, statement);
                    }
                    // The same keys holding what else the statement reads:
                    // the selection weighs its extra bytes against the heap
                    // fetches an index-only scan saves.
                    if let Some(covering) = covering_form(&indexes[0], access, table) {
                        self.add(&covering, statement);
                    }
                }
                _ => {
                    // One index per OR branch: a BitmapOr needs them all.
                    scope.single_index = false;
                    let members: Vec<Option<usize>> = indexes
                        .iter()
                        .map(|index| self.add(index, statement))
                        .collect();
                    if members.iter().all(Option::is_some) {
                        let mut members: Vec<usize> = members.into_iter().flatten().collect();
                        members.sort_unstable();
                        members.dedup();
                        self.add_unit(members, statement.queryid);
                    }
                }
            }
            access_best.push(best);
            // Joins to each other table: all their keys together (a composite
            // join key), led by each key alone too.
            let mut others: Vec<&QualifiedName> = Vec::new();
            for join in &access.joins {
                if !others.contains(&&join.other_table) {
                    others.push(&join.other_table);
                }
            }
            for other in others {
                let columns: Vec<&str> = access
                    .joins
                    .iter()
                    .filter(|j| &j.other_table == other)
                    .filter_map(|j| match &j.key {
                        IndexKey::Column(c) => Some(c.as_str()),
                        IndexKey::Expression { .. } => None,
                    })
                    .collect();
                let Some(index) = index_for_join(
                    access,
                    table,
                    &columns,
                    snapshot.database_collation.as_deref(),
                ) else {
                    continue;
                };
                if let Some(inner) = self.add(&index, statement) {
                    let outer = accesses
                        .iter()
                        .position(|a| &a.table == other && !std::ptr::eq(a, access));
                    join_keys.push((at, inner, outer));
                }
                for form in narrower_forms(&index) {
                    self.add_form(&form, statement);
                }
            }
        }
        // Both sides of a join: the outer filtered by its own index, the inner
        // reached through its join key. Alone, each may not change the plan.
        for (_, inner, outer) in join_keys {
            if let Some(Some(outer)) = outer.map(|o| access_best[o]) {
                if outer != inner {
                    let mut members = vec![inner, outer];
                    members.sort_unstable();
                    self.add_unit(members, statement.queryid);
                }
            }
        }
        self.space.statements.push(scope);
    }

    /// The candidate for `index`, as some access's own index.
    fn add(&mut self, index: &AccessIndex, statement: &'a Statement) -> Option<usize> {
        let at = self.add_form(index, statement)?;
        self.narrow[at] = false;
        Some(at)
    }

    /// The candidate for `index`, created on first sight; `None` when an
    /// existing valid index already serves it.
    fn add_form(&mut self, index: &AccessIndex, statement: &'a Statement) -> Option<usize> {
        let form = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            index.table, index.keys, index.predicates, index.include, index.method
        );
        if let Some(&at) = self.by_form.get(&form) {
            if !self.statements_of[at]
                .iter()
                .any(|s| s.queryid == statement.queryid)
            {
                self.statements_of[at].push(statement);
            }
            return Some(at);
        }
        // An existing index serves a covering form only if it holds its
        // INCLUDE columns too (as keys or included).
        let holds_include = |existing: &crate::snapshot::Index| {
            index.include.iter().all(|c| {
                existing.include.contains(c)
                    || existing
                        .keys
                        .iter()
                        .any(|k| k.column.as_deref() == Some(c.as_str()))
            })
        };
        let existing = self
            .snapshot
            .indexes_of(&index.table)
            .filter(|existing| holds_include(existing))
            .any(|existing| existing_serves(existing, index));
        if existing {
            return None;
        }
        let table = self
            .snapshot
            .table(&index.table.schema, &index.table.name)?;
        let at = self.space.candidates.len();
        let merged = Merged {
            index: index.clone(),
            statements: vec![statement],
        };
        // Names are settled once the selection has chosen (see `name_chosen`).
        self.space.candidates.push(proposal(
            self.snapshot,
            table,
            &merged,
            String::new(),
            Vec::new(),
        ));
        self.statements_of.push(vec![statement]);
        self.narrow.push(true);
        self.by_form.insert(form, at);
        Some(at)
    }

    fn add_unit(&mut self, members: Vec<usize>, queryid: i64) {
        self.units.entry(members).or_default().insert(queryid);
    }

    fn finish(mut self) -> CandidateSpace {
        // A narrower form only one statement asked for shares nothing: that
        // statement's own index serves it at least as well.
        let keep: Vec<bool> = self
            .narrow
            .iter()
            .zip(&self.statements_of)
            .map(|(narrow, statements)| !narrow || statements.len() > 1)
            .collect();
        let mut position = Vec::with_capacity(keep.len());
        let mut next = 0;
        for k in &keep {
            position.push(next);
            next += usize::from(*k);
        }
        let mut at = 0;
        self.space.candidates.retain(|_| {
            at += 1;
            keep[at - 1]
        });
        let mut at = 0;
        self.statements_of.retain(|_| {
            at += 1;
            keep[at - 1]
        });
        let units = std::mem::take(&mut self.units);
        for (members, ids) in units {
            if members.iter().all(|m| keep[*m]) {
                let members = members.iter().map(|m| position[*m]).collect();
                self.units.insert(members, ids);
            }
        }
        for (candidate, statements) in self.space.candidates.iter_mut().zip(&self.statements_of) {
            let mut ids: Vec<i64> = statements.iter().map(|s| s.queryid).collect();
            ids.sort_unstable();
            candidate.queryids = ids;
            candidate.queries = statements.iter().map(|s| s.query.clone()).collect();
            candidate.workload_time_ms = statements
                .iter()
                .map(|s| s.calls as f64 * s.mean_exec_time)
                .sum();
        }
        // A candidate is also measured on every join that could use it, not
        // only the statements it was built for: `orders (o_orderdate)`, built
        // for the statements filtering on that range, also serves a join whose
        // own index leads with its sort. A single-table statement's own
        // candidates already cover what could serve it.
        let mut users: HashMap<(&QualifiedName, &KeyTarget), Vec<i64>> = HashMap::new();
        for scope in self.space.statements.iter().filter(|s| !s.single_index) {
            for (table, keys) in &scope.leading {
                for key in keys {
                    users.entry((table, key)).or_default().push(scope.queryid);
                }
            }
        }
        let mut units = Vec::with_capacity(self.space.candidates.len());
        for (at, candidate) in self.space.candidates.iter().enumerate() {
            let mut queryids = candidate.queryids.clone();
            if let Some(first) = candidate.key_specs.first() {
                if let Some(more) = users.get(&(&candidate.table_name, &first.key)) {
                    queryids.extend(more);
                    queryids.sort_unstable();
                    queryids.dedup();
                }
            }
            units.push(CandidateUnit {
                members: vec![at],
                queryids,
            });
        }
        self.space.units.extend(units);
        let mut groups: Vec<(Vec<usize>, BTreeSet<i64>)> = self.units.into_iter().collect();
        groups.sort();
        for (members, ids) in groups {
            self.space.units.push(CandidateUnit {
                members,
                queryids: ids.into_iter().collect(),
            });
        }
        self.space
    }
}

/// What an index on the access's table could lead with and still be used.
pub fn leading_keys(access: &TableAccess) -> Vec<KeyTarget> {
    let target = |key: &IndexKey| match key {
        IndexKey::Column(c) => KeyTarget::Column(c.clone()),
        IndexKey::Expression { sql, .. } => KeyTarget::Expression(sql.clone()),
    };
    let mut keys: Vec<KeyTarget> = Vec::new();
    let branches = access
        .or_groups
        .iter()
        .flat_map(|g| g.branches.iter())
        .flat_map(|b| b.predicates.iter());
    let predicates = access.filters.iter().chain(branches).map(|p| &p.key);
    let joins = access.joins.iter().map(|j| &j.key);
    let sorts = access.sort.first().map(|s| &s.key);
    for key in predicates.chain(joins).chain(sorts) {
        let key = target(key);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Gives the chosen candidates their final names: deterministic, unique
/// among themselves and every existing relation of the snapshot.
pub fn name_chosen(snapshot: &Snapshot, chosen: &mut [IndexProposal]) {
    let mut taken: HashSet<String> = snapshot.indexes.iter().map(|i| i.name.clone()).collect();
    taken.extend(snapshot.tables.iter().map(|t| t.name.clone()));
    for proposal in chosen.iter_mut() {
        let name = render::index_name_using(
            proposal.method,
            &proposal.table_name,
            &proposal.key_specs,
            &proposal.partial,
            &|n| taken.contains(n),
        );
        taken.insert(name.clone());
        proposal.ddl = render::create_index_sql_using(
            render::Storage {
                method: proposal.method,
                pages_per_range: proposal.pages_per_range,
            },
            &name,
            &proposal.table_name,
            &proposal.key_specs,
            &proposal.include,
            &proposal.partial,
        );
        proposal.name = name;
    }
}
