//! Workload-level index selection with hypothetical indexes.
//!
//! The candidates of [`CandidateSpace`] are weighed as a set, the way the
//! index-selection literature does it (a greedy over cost saving per byte,
//! configuration-aware, as in AutoAdmin and Extend):
//!
//! 1. **Baseline**: the generic-plan cost of every statement a candidate is for.
//! 2. **What-if per unit**: each unit (a candidate, or the candidates that
//!    only pay together: both sides of a join, every branch of an OR) is
//!    created as hypothetical indexes and its statements re-planned. Units on
//!    tables no other unit of a batch touches are measured in one pipelined
//!    batch, so a batch is a few round trips whatever its size.
//! 3. **Greedy**: add the unit with the best saving per byte, minus what it
//!    costs on every write to its table, until nothing pays, the budget is
//!    spent or a table has its share. A statement that reads one table
//!    through one index costs, under a set, the least of its costs with each
//!    member alone; any other statement is re-planned with the whole set
//!    present whenever the set changed on one of its tables.
//! 4. **The set together**: every statement planned with the whole set; an
//!    index no plan uses is dropped, and so is one whose *marginal* saving,
//!    given all the others, falls under the threshold or does not pay its
//!    write cost. What is kept reports the statements its plans use it for.
//!
//! hypopg holds at most the configuration plus one batch of candidates:
//! every other hypothetical index is dropped as soon as it is measured, and
//! when hypopg runs out of oids anyway, the session is reset, the
//! configuration rebuilt, and the work goes on.

use super::proposals::{index_node, LeftOut, RejectedProposal, StatementPlans, VerifyReport};
use super::{HypotheticalIndex, PlanSummary, VerifyError, WhatIf};
use crate::analyze::indexes::candidate::KeyTarget;
use crate::analyze::indexes::space::{CandidateSpace, StatementScope};
use crate::analyze::indexes::{reason_on, ExpectedPlan, IndexProposal};
use crate::snapshot::{QualifiedName, Snapshot, Statement, TableKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Most hypothetical indexes one batch creates; hypopg's oid range holds a
/// few thousand in all, the configuration included.
const BATCH_INDEXES: usize = 400;

/// Share of the workload's cost (Σ calls × generic-plan cost) below which the
/// statements of a unit are not worth an index: 0.1%.
const MIN_UNIT_SHARE: f64 = 0.001;

/// Share of the workload's cost a choice must save: 0.01%. Below it, an
/// index (or the widening of one) changes nothing a user could measure, and
/// without a budget every such crumb would otherwise be taken.
const MIN_GAIN_SHARE: f64 = 0.0001;

/// How the selection decides.
#[derive(Debug, Clone)]
pub struct SelectOptions {
    /// Share of one statement's cost (0.1 = 10%) a unit must cut, for at
    /// least one of its statements, when added; and each kept index, given
    /// all the others. A share of the statements' total would let a heavy
    /// statement the index does not need to serve well hide one it cuts by half.
    pub min_savings: f64,
    /// Total size of the chosen set, hypopg's estimate.
    pub budget_bytes: Option<i64>,
    /// New indexes on one table, at most.
    pub max_indexes_per_table: usize,
    /// Weigh each index's upkeep on writes against what it saves. Only
    /// meaningful when the statements' calls were observed over the same
    /// window as the tables' writes (pg_stat_statements); statements given on
    /// the command line have no rate to weigh writes against.
    pub weigh_writes: bool,
}

impl Default for SelectOptions {
    fn default() -> Self {
        SelectOptions {
            min_savings: 0.1,
            budget_bytes: None,
            max_indexes_per_table: DEFAULT_MAX_INDEXES_PER_TABLE,
            weigh_writes: true,
        }
    }
}

/// `--max-indexes-per-table` when not given.
pub const DEFAULT_MAX_INDEXES_PER_TABLE: usize = 5;

/// The chosen set, each proposal verified and attributed.
#[derive(Debug, Clone)]
pub struct Selection {
    pub chosen: Vec<IndexProposal>,
    pub report: VerifyReport,
}

/// One statement's plan under some configuration, reduced to what the
/// selection uses.
#[derive(Debug, Clone)]
struct Planned {
    cost: f64,
    /// Candidates (positions in the space) the plan reads through.
    uses: Vec<usize>,
}

/// What planning a unit's statements with it present showed.
#[derive(Debug, Clone, Default)]
struct Measurement {
    costs: Vec<(i64, f64)>,
    /// The configuration version of each table when measured.
    versions: Vec<(QualifiedName, u64)>,
}

/// The what-if session, the hypothetical indexes it holds, and their names.
struct Hypotheses<'a> {
    whatif: &'a WhatIf,
    /// The hypopg statements of each candidate: one, or one per leaf partition.
    ddl: Vec<Vec<String>>,
    /// Candidates present in the session now, with their hypothetical indexes.
    present: BTreeMap<usize, Vec<HypotheticalIndex>>,
    /// Candidates that are part of the configuration (kept across batches).
    configuration: BTreeSet<usize>,
    /// hypopg's name → candidate, for every index created since the last
    /// reset (cached plans name indexes dropped and created again since).
    names: HashMap<String, usize>,
    /// Every name a candidate had in this session: plans kept from before a
    /// candidate was dropped and created again name its earlier index.
    every_name: HashMap<usize, Vec<String>>,
    /// hypopg's size of each candidate, once created.
    sizes: Vec<Option<i64>>,
    /// Per candidate, the candidates it widens (see [`widened`]): measured in
    /// their place, with them absent.
    narrower: Vec<Vec<usize>>,
    /// Per candidate, the statements it was built for.
    built_for: Vec<Vec<i64>>,
    /// Per candidate, its table; per statement, the tables it reads (as
    /// positions in one list of tables: compared for every plan).
    table_of: Vec<usize>,
    statement_tables: HashMap<i64, Vec<usize>>,
    /// The candidates, and the scope of each single-table, single-index
    /// statement: which of them could serve it.
    candidates: &'a [IndexProposal],
    single_table_scopes: HashMap<i64, &'a StatementScope>,
    /// Plans already made, by statement and the candidates present on its
    /// tables: a plan depends on nothing else the selection changes, and the
    /// same configuration recurs (units re-measured after a choice on
    /// another of their statements' tables). For a single-table,
    /// single-index statement only the candidates it could lead with count:
    /// an index leading with a column it neither filters, joins nor sorts on
    /// is left out of its plans as the set planning leaves it out, so its
    /// costs are never lower than measured.
    plan_cache: HashMap<(i64, Vec<usize>), PlanSummary>,
    plans_made: usize,
    resets: usize,
}

impl<'a> Hypotheses<'a> {
    /// Creates the candidates not yet present. When hypopg runs out of oids,
    /// resets the session, rebuilds the configuration and tries once more.
    async fn create(&mut self, candidates: &[usize]) -> Result<(), VerifyError> {
        let wanted: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|c| !self.present.contains_key(c))
            .collect();
        match self.try_create(&wanted).await {
            Err(e) if out_of_oids(&e) => {
                self.resets += 1;
                self.whatif.reset().await?;
                self.present.clear();
                // Oids start again: old names may come back for other indexes.
                self.names.clear();
                self.plan_cache.clear();
                let configuration: Vec<usize> = self.configuration.iter().copied().collect();
                self.try_create(&configuration).await?;
                self.try_create(&wanted).await
            }
            other => other,
        }
    }

    async fn try_create(&mut self, wanted: &[usize]) -> Result<(), VerifyError> {
        let sqls: Vec<(usize, &str)> = wanted
            .iter()
            .filter(|c| !self.present.contains_key(c))
            .flat_map(|&c| self.ddl[c].iter().map(move |sql| (c, sql.as_str())))
            .collect();
        let texts: Vec<&str> = sqls.iter().map(|(_, sql)| *sql).collect();
        let created = self.whatif.create_many(&texts).await;
        let mut first_error = None;
        for ((candidate, _), result) in sqls.iter().zip(created) {
            match result {
                Ok(h) => {
                    self.names.insert(h.name.clone(), *candidate);
                    self.every_name
                        .entry(*candidate)
                        .or_default()
                        .push(h.name.clone());
                    self.present.entry(*candidate).or_default().push(h);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        for &c in wanted {
            if let Some(hs) = self.present.get(&c) {
                if hs.len() == self.ddl[c].len() && self.sizes[c].is_none() {
                    self.sizes[c] = Some(hs.iter().map(|h| h.size_bytes).sum());
                }
            }
        }
        match first_error {
            Some(e) => {
                // Leave nothing half-created behind.
                let partial: Vec<usize> = wanted
                    .iter()
                    .copied()
                    .filter(|c| {
                        self.present
                            .get(c)
                            .is_some_and(|hs| hs.len() < self.ddl[*c].len())
                    })
                    .collect();
                self.remove(&partial).await?;
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Drops the candidates' hypothetical indexes from the session.
    async fn remove(&mut self, candidates: &[usize]) -> Result<(), VerifyError> {
        let mut oids = Vec::new();
        for c in candidates {
            for h in self.present.remove(c).unwrap_or_default() {
                oids.push(h.oid);
            }
        }
        self.whatif.drop_many(&oids).await
    }

    /// Plans the statements, pipelined.
    async fn plan(
        &mut self,
        ids: &[i64],
        by_id: &HashMap<i64, &Statement>,
    ) -> HashMap<i64, Result<PlanSummary, String>> {
        let mut results = HashMap::with_capacity(ids.len());
        let mut missing: Vec<(i64, (i64, Vec<usize>))> = Vec::new();
        for &id in ids {
            let key = (id, self.present_for(id));
            match self.plan_cache.get(&key) {
                Some(plan) => {
                    results.insert(id, Ok(plan.clone()));
                }
                None if by_id.contains_key(&id) => missing.push((id, key)),
                None => {}
            }
        }
        let texts: Vec<&str> = missing
            .iter()
            .filter_map(|(id, _)| by_id.get(id).map(|s| s.query.as_str()))
            .collect();
        self.plans_made += texts.len();
        let plans = self.whatif.plan_many(&texts).await;
        for ((id, key), plan) in missing.into_iter().zip(plans) {
            if let Ok(plan) = &plan {
                self.plan_cache.insert(key, plan.clone());
            }
            results.insert(id, plan.map_err(|e| e.to_string()));
        }
        results
    }

    /// The candidates present now on the tables statement `id` reads.
    fn present_for(&self, id: i64) -> Vec<usize> {
        let Some(tables) = self.statement_tables.get(&id) else {
            return self.present.keys().copied().collect();
        };
        let scope = self.single_table_scopes.get(&id);
        self.present
            .keys()
            .copied()
            .filter(|c| tables.contains(&self.table_of[*c]))
            .filter(|c| scope.is_none_or(|s| s.could_be_served_by(&self.candidates[*c])))
            .collect()
    }

    fn planned(&self, plan: &PlanSummary) -> Planned {
        let mut uses: Vec<usize> = plan
            .indexes_used
            .iter()
            .filter_map(|n| self.names.get(n).copied())
            .collect();
        uses.sort_unstable();
        uses.dedup();
        Planned {
            cost: plan.total_cost,
            uses,
        }
    }

    fn size(&self, candidate: usize) -> i64 {
        self.sizes[candidate].unwrap_or(0).max(8192)
    }
}

/// The tables a unit and its statements touch (see [`disjoint_batches`]).
type Footprint<'f> = dyn Fn(&[usize], &[i64]) -> Vec<QualifiedName> + 'f;

/// Wall time of each stage, for the report (and the benchmark).
struct Timings {
    last: std::time::Instant,
    laps: Vec<(String, f64)>,
}

impl Timings {
    fn start() -> Timings {
        Timings {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &str) {
        let now = std::time::Instant::now();
        self.laps
            .push((stage.to_string(), (now - self.last).as_secs_f64() * 1000.0));
        self.last = now;
    }
}

fn out_of_oids(e: &VerifyError) -> bool {
    matches!(e, VerifyError::Query { detail, .. } if detail.contains("oid"))
}

/// Chooses the set. `statements` are the workload's analyzed statements (the
/// space's queryids refer to them).
pub async fn select(
    whatif: &WhatIf,
    snapshot: &Snapshot,
    space: CandidateSpace,
    statements: &[&Statement],
    heuristic: &[IndexProposal],
    options: &SelectOptions,
    primed: Vec<(i64, PlanSummary)>,
) -> Result<Selection, VerifyError> {
    let by_id: HashMap<i64, &Statement> = statements.iter().map(|s| (s.queryid, *s)).collect();
    let scopes: HashMap<i64, &StatementScope> =
        space.statements.iter().map(|s| (s.queryid, s)).collect();
    let weight = |id: i64| by_id.get(&id).map_or(1.0, |s| s.calls.max(1) as f64);
    let mut report = VerifyReport::default();

    whatif.reset().await?;
    let mut table_ids: HashMap<QualifiedName, usize> = HashMap::new();
    for c in &space.candidates {
        let next = table_ids.len();
        table_ids.entry(c.table_name.clone()).or_insert(next);
    }
    let mut session = Hypotheses {
        whatif,
        ddl: space
            .candidates
            .iter()
            .map(|c| hypothetical_statements(snapshot, c))
            .collect(),
        present: BTreeMap::new(),
        configuration: BTreeSet::new(),
        names: HashMap::new(),
        every_name: HashMap::new(),
        sizes: vec![None; space.candidates.len()],
        narrower: narrower_of(&space.candidates),
        built_for: space
            .candidates
            .iter()
            .map(|c| c.queryids.clone())
            .collect(),
        table_of: space
            .candidates
            .iter()
            .map(|c| table_ids[&c.table_name])
            .collect(),
        statement_tables: space
            .statements
            .iter()
            .map(|s| {
                let ids = s.tables.iter().filter_map(|t| table_ids.get(t).copied());
                (s.queryid, ids.collect())
            })
            .collect(),
        candidates: &space.candidates,
        single_table_scopes: space
            .statements
            .iter()
            .filter(|s| s.single_index && s.leading.len() == 1)
            .map(|s| (s.queryid, s))
            .collect(),
        plans_made: primed.len(),
        // Plans made before any hypothetical index existed: the baseline.
        plan_cache: primed
            .into_iter()
            .map(|(id, plan)| ((id, Vec::new()), plan))
            .collect(),
        resets: 0,
    };

    let mut timings = Timings::start();
    // 1. Baseline.
    let mut involved: Vec<i64> = space
        .units
        .iter()
        .flat_map(|u| u.queryids.iter().copied())
        .filter(|id| by_id.contains_key(id))
        .collect();
    involved.sort_unstable();
    involved.dedup();
    let mut baseline: HashMap<i64, PlanSummary> = HashMap::new();
    for (id, result) in session.plan(&involved, &by_id).await {
        match result {
            Ok(plan) => {
                baseline.insert(id, plan);
            }
            Err(reason) => report.unplannable.push((id, reason)),
        }
    }
    report.unplannable.sort();
    let cost0: HashMap<i64, f64> = baseline.iter().map(|(id, p)| (*id, p.total_cost)).collect();

    let workload_cost: f64 = cost0.iter().map(|(id, c)| weight(*id) * c).sum();
    // The units, limited to statements that planned.
    let units: Vec<(Vec<usize>, Vec<i64>)> = space
        .units
        .iter()
        .map(|u| {
            let ids: Vec<i64> = u
                .queryids
                .iter()
                .copied()
                .filter(|id| cost0.contains_key(id))
                .collect();
            (u.members.clone(), ids)
        })
        // A unit whose statements together carry less than MIN_UNIT_SHARE of
        // the workload's cost cannot save more than that: not worth an index
        // (nor its plans).
        .filter(|(_, ids)| {
            let potential: f64 = ids.iter().map(|id| weight(*id) * cost0[id]).sum();
            !ids.is_empty() && potential >= MIN_UNIT_SHARE * workload_cost
        })
        .collect();
    let table_of = |c: usize| &space.candidates[c].table_name;
    let footprint = |members: &[usize], ids: &[i64]| -> Vec<QualifiedName> {
        let mut tables: Vec<QualifiedName> = members.iter().map(|&m| table_of(m).clone()).collect();
        for id in ids {
            if let Some(scope) = scopes.get(id) {
                tables.extend(scope.tables.iter().cloned());
            }
        }
        tables.sort();
        tables.dedup();
        tables
    };

    timings.lap("baseline");
    // 2. Each unit measured on its own, in batches of units on disjoint tables.
    let mut versions: HashMap<QualifiedName, u64> = HashMap::new();
    let mut measured: Vec<Measurement> = vec![Measurement::default(); units.len()];
    let all: Vec<usize> = (0..units.len()).collect();
    let units_in_play = UnitsInPlay {
        units: &units,
        by_id: &by_id,
        footprint: &footprint,
    };
    measure(&mut session, &units_in_play, &all, &versions, &mut measured).await?;

    timings.lap("candidates");
    // Each statement's cost with one candidate alone (none of the
    // configuration present: phase 2 ran before any was chosen).
    let alone_cost: HashMap<(i64, usize), f64> = units
        .iter()
        .zip(&measured)
        .filter(|((members, _), _)| members.len() == 1)
        .flat_map(|((members, _), m)| m.costs.iter().map(move |(id, c)| ((*id, members[0]), *c)))
        .collect();

    // 3. Greedy.
    let mut cur: HashMap<i64, f64> = cost0.clone();
    let single = |id: &i64| scopes.get(id).is_some_and(|s| s.single_index);
    let write_cost: Vec<f64> = space
        .candidates
        .iter()
        .map(|c| {
            if options.weigh_writes {
                write_cost(snapshot, c)
            } else {
                0.0
            }
        })
        .collect();
    let mut settled: HashSet<usize> = HashSet::new();
    let mut left_out_fate: HashMap<usize, String> = HashMap::new();
    let mut total_size: i64 = 0;
    let mut per_table: HashMap<QualifiedName, usize> = HashMap::new();
    // What each unit would gain now, per byte, and whether that is stale;
    // `None` when it does not pay (or is settled). Recomputed only for the
    // units a change can touch.
    let evaluate = |u: usize,
                    configuration: &BTreeSet<usize>,
                    cur: &HashMap<i64, f64>,
                    versions: &HashMap<QualifiedName, u64>,
                    measured: &[Measurement],
                    session: &Hypotheses|
     -> Option<(f64, bool)> {
        let (members, _) = &units[u];
        let new: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| !configuration.contains(m))
            .collect();
        if new.is_empty() {
            return None;
        }
        let replaced = replaced_by(&session.narrower, configuration, &new);
        let writes: f64 = new.iter().map(|&c| write_cost[c]).sum::<f64>()
            - replaced.iter().map(|&c| write_cost[c]).sum::<f64>();
        let size: i64 = (new.iter().map(|&c| session.size(c)).sum::<i64>()
            - replaced.iter().map(|&c| session.size(c)).sum::<i64>())
        .max(1);
        let m = &measured[u];
        // A replacement measured before the index it replaces was chosen has
        // not seen that index's statements read the wider one instead.
        let stale = m
            .versions
            .iter()
            .any(|(t, v)| versions.get(t).copied().unwrap_or(0) != *v)
            && (!replaced.is_empty() || m.costs.iter().any(|(id, _)| !single(id)));
        let gain = gain(&m.costs, cur, &weight, !replaced.is_empty());
        if gain.total <= writes
            || gain.total < MIN_GAIN_SHARE * workload_cost
            || !gain.cuts_enough(options.min_savings)
        {
            return None;
        }
        Some(((gain.total - writes) / size as f64, stale))
    };
    let mut units_of_statement: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut units_of_candidate: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut interactive_units_of_table: HashMap<QualifiedName, Vec<usize>> = HashMap::new();
    for (u, (members, ids)) in units.iter().enumerate() {
        for id in ids {
            units_of_statement.entry(*id).or_default().push(u);
        }
        for m in members {
            units_of_candidate.entry(*m).or_default().push(u);
        }
        if ids.iter().any(|id| !single(id)) {
            for t in footprint(members, ids) {
                interactive_units_of_table.entry(t).or_default().push(u);
            }
        }
    }
    let mut priority: Vec<Option<(f64, bool)>> = (0..units.len())
        .map(|u| {
            evaluate(
                u,
                &session.configuration,
                &cur,
                &versions,
                &measured,
                &session,
            )
        })
        .collect();
    loop {
        let mut best: Option<(f64, usize, bool)> = None;
        for (u, p) in priority.iter().enumerate() {
            if let Some((p, stale)) = p {
                if best.is_none_or(|(b, _, _)| *p > b) {
                    best = Some((*p, u, *stale));
                }
            }
        }
        let Some((_, u, stale)) = best else { break };
        if stale {
            measure(&mut session, &units_in_play, &[u], &versions, &mut measured).await?;
            priority[u] = evaluate(
                u,
                &session.configuration,
                &cur,
                &versions,
                &measured,
                &session,
            );
            continue;
        }
        settled.insert(u);
        priority[u] = None;
        let (members, _) = &units[u];
        let new: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| !session.configuration.contains(m))
            .collect();
        // Extend's widening: a chosen index the new one extends by a column
        // leaves the set, so only the difference in size is spent.
        let replaced = replaced_by(&session.narrower, &session.configuration, &new);
        let size: i64 = new.iter().map(|&c| session.size(c)).sum::<i64>()
            - replaced.iter().map(|&c| session.size(c)).sum::<i64>();
        let gain = gain(&measured[u].costs, &cur, &weight, !replaced.is_empty()).total;
        let label = || {
            new.iter()
                .map(|&c| space.candidates[c].hypothetical_sql.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut counts = per_table.clone();
        for &c in &new {
            *counts.entry(table_of(c).clone()).or_default() += 1;
        }
        for &c in &replaced {
            if let Some(n) = counts.get_mut(table_of(c)) {
                *n = n.saturating_sub(1);
            }
        }
        let limit = match options.budget_bytes {
            Some(budget) if total_size + size > budget => Some(format!(
                "the budget ({}) is spent",
                crate::format::bytes(budget)
            )),
            _ if counts.values().any(|n| *n > options.max_indexes_per_table) => Some(format!(
                "its table already has {} new indexes (--max-indexes-per-table)",
                options.max_indexes_per_table
            )),
            _ => None,
        };
        if let Some(reason) = limit {
            for &c in &new {
                left_out_fate.entry(c).or_insert_with(|| reason.clone());
            }
            report
                .left_out
                .push(LeftOut::measured(label(), size, gain, reason));
            continue;
        }
        session.create(&new).await?;
        session.configuration.extend(new.iter().copied());
        // The narrower index goes only now: measured with both present, the
        // planner already preferred the wider one where it pays.
        session.remove(&replaced).await?;
        for c in &replaced {
            session.configuration.remove(c);
            for &t in units_of_candidate.get(c).into_iter().flatten() {
                settled.insert(t);
                priority[t] = None;
            }
        }
        per_table = counts;
        total_size += size;
        // The statements whose plans this choice changed.
        let moved: HashSet<i64> = measured[u]
            .costs
            .iter()
            .filter(|(id, cost)| cur.get(id).is_some_and(|c| (c - cost).abs() > 1e-9))
            .map(|(id, _)| *id)
            .collect();
        for (id, cost) in &measured[u].costs {
            if let Some(c) = cur.get_mut(id) {
                if single(id) && replaced.is_empty() {
                    *c = c.min(*cost);
                } else {
                    *c = *cost;
                }
            }
        }
        for &c in new.iter().chain(&replaced) {
            *versions.entry(table_of(c).clone()).or_default() += 1;
        }
        // The units whose estimate this changes: those measuring the same
        // statements, sharing a member, or re-planned on the same tables.
        let mut touched: BTreeSet<usize> = BTreeSet::new();
        for (id, _) in &measured[u].costs {
            touched.extend(units_of_statement.get(id).into_iter().flatten());
        }
        for c in &new {
            touched.extend(units_of_candidate.get(c).into_iter().flatten());
            touched.extend(
                interactive_units_of_table
                    .get(table_of(*c))
                    .into_iter()
                    .flatten(),
            );
        }
        // An index on one side of a join can make one on the other side pay
        // that did not pay alone: the units re-planned with the statements
        // this one changed are measured again now, under the new set, not
        // only when their old estimate comes out on top.
        let complements: Vec<usize> = touched
            .iter()
            .copied()
            .filter(|t| {
                !settled.contains(t)
                    && priority[*t].is_none()
                    && units[*t].1.iter().any(|id| !single(id))
                    && units[*t].1.iter().any(|id| moved.contains(id))
            })
            .collect();
        measure(
            &mut session,
            &units_in_play,
            &complements,
            &versions,
            &mut measured,
        )
        .await?;
        for t in touched {
            if !settled.contains(&t) {
                priority[t] = evaluate(
                    t,
                    &session.configuration,
                    &cur,
                    &versions,
                    &measured,
                    &session,
                );
            }
        }
    }
    report.left_out.sort_by(|a, b| {
        let saving = |l: &LeftOut| l.cost_saving.unwrap_or(f64::NEG_INFINITY);
        saving(b).total_cmp(&saving(a))
    });

    timings.lap("greedy");
    // 4. The set together. Every statement that planned, with the whole set.
    let configuration: Vec<usize> = session.configuration.iter().copied().collect();
    session.create(&configuration).await?;
    // A one-table, one-index statement that no chosen index could lead for
    // keeps its baseline plan: nothing the planner could use was added.
    let mut configuration_of_table: HashMap<&QualifiedName, Vec<usize>> = HashMap::new();
    for &c in &configuration {
        configuration_of_table
            .entry(table_of(c))
            .or_default()
            .push(c);
    }
    let usable = |id: &i64| {
        !single(id)
            || scopes.get(id).is_none_or(|scope| {
                scope
                    .tables
                    .iter()
                    .flat_map(|t| configuration_of_table.get(t).into_iter().flatten())
                    .any(|&c| scope.could_be_served_by(&space.candidates[c]))
            })
    };
    let mut planned_ids: Vec<i64> = cost0.keys().copied().filter(|id| usable(id)).collect();
    planned_ids.sort_unstable();
    let mut plans: HashMap<i64, PlanSummary> = baseline
        .iter()
        .filter(|(id, _)| !usable(id))
        .map(|(id, plan)| (*id, plan.clone()))
        .collect();
    for (id, result) in session.plan(&planned_ids, &by_id).await {
        if let Ok(plan) = result {
            plans.insert(id, plan);
        }
    }
    timings.lap("set: plans");
    let mut final_plans: HashMap<i64, Planned> = plans
        .iter()
        .map(|(id, p)| (*id, session.planned(p)))
        .collect();

    let mut fate: HashMap<usize, String> = HashMap::new();
    let mut kept: BTreeSet<usize> = session.configuration.clone();
    // The chosen indexes by table, for the statements that read one table:
    // only its own indexes can stand in for one dropped from it.
    let kept_of_table = configuration_of_table.clone();
    let mut marginal_of: HashMap<usize, f64> = HashMap::new();
    let mut dirty: BTreeSet<usize> = kept.clone();
    for _round in 0..3 {
        if dirty.is_empty() {
            break;
        }
        let users = users_of(&final_plans, &kept);
        // Indexes no plan uses change no plan: drop them all.
        let unused: Vec<usize> = dirty
            .iter()
            .copied()
            .filter(|i| users.get(i).is_none_or(|u| u.is_empty()))
            .collect();
        for &i in &unused {
            fate.insert(
                i,
                "with the other chosen indexes present the planner does not use it".into(),
            );
        }
        session.remove(&unused).await?;
        for i in &unused {
            kept.remove(i);
            session.configuration.remove(i);
        }
        // The marginal saving of each index its plans use, given all the others.
        let to_check: Vec<usize> = dirty.iter().copied().filter(|i| kept.contains(i)).collect();
        dirty.clear();
        let mut without: HashMap<usize, HashMap<i64, Planned>> = HashMap::new();
        let mut replan: Vec<usize> = Vec::new();
        for &i in &to_check {
            // Without the index, a statement that reads one table through one
            // index takes the best of the other indexes it could use, each
            // measured alone for it (or its plan before any). Any other
            // statement, or one with a substitute not measured for it, is
            // planned again without the index.
            let mut plans = HashMap::new();
            let mut measured_all = true;
            for id in &users[&i] {
                let Some(&before) = cost0.get(id) else {
                    continue;
                };
                if !single(id) {
                    measured_all = false;
                    break;
                }
                let mut best = Planned {
                    cost: before,
                    uses: Vec::new(),
                };
                let kept_here = scopes
                    .get(id)
                    .into_iter()
                    .flat_map(|s| s.tables.iter())
                    .flat_map(|t| kept_of_table.get(t).into_iter().flatten())
                    .filter(|j| kept.contains(j));
                for &j in kept_here {
                    let usable = j != i
                        && scopes
                            .get(id)
                            .is_some_and(|s| s.could_be_served_by(&space.candidates[j]));
                    if !usable {
                        continue;
                    }
                    match alone_cost.get(&(*id, j)) {
                        Some(&c) if c < best.cost => {
                            best = Planned {
                                cost: c,
                                uses: vec![j],
                            }
                        }
                        Some(_) => {}
                        None => measured_all = false,
                    }
                }
                plans.insert(*id, best);
            }
            if measured_all {
                without.insert(i, plans);
            } else {
                replan.push(i);
            }
        }
        let replan_units: Vec<(Vec<usize>, Vec<i64>)> = replan
            .iter()
            .map(|&i| (vec![i], users[&i].clone()))
            .collect();
        let order: Vec<usize> = (0..replan_units.len()).collect();
        for batch in disjoint_batches(&order, &replan_units, &footprint) {
            let indexes: Vec<usize> = batch.iter().map(|&b| replan_units[b].0[0]).collect();
            let ids: Vec<i64> = batch
                .iter()
                .flat_map(|&b| replan_units[b].1.iter().copied())
                .collect();
            session.remove(&indexes).await?;
            let results = session.plan(&ids, &by_id).await;
            for &b in &batch {
                let (index, ids) = &replan_units[b];
                let plans = ids
                    .iter()
                    .filter_map(|id| {
                        let plan = results.get(id)?.as_ref().ok()?;
                        Some((*id, session.planned(plan)))
                    })
                    .collect();
                without.insert(index[0], plans);
            }
            session.create(&indexes).await?;
        }
        // Weakest first; dropping one changes the plans of its statements, so
        // an index those plans (or theirs before) use is judged again next round.
        let mut judged: Vec<(f64, usize)> = to_check
            .iter()
            .map(|&i| {
                let saving = marginal(&users[&i], &without[&i], &final_plans, &weight);
                (saving.total / session.size(i) as f64, i)
            })
            .collect();
        judged.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut dropped = Vec::new();
        for (_, i) in judged {
            if dirty.contains(&i) {
                continue;
            }
            let cut = marginal(&users[&i], &without[&i], &final_plans, &weight);
            let (saving, best_cut) = (cut.total, cut.best_cut);
            if saving > write_cost[i] && cut.cuts_enough(options.min_savings) {
                marginal_of.insert(i, saving);
                continue;
            }
            fate.insert(
                i,
                if saving <= 0.0 {
                    "given the other chosen indexes, it saves nothing".into()
                } else if saving <= write_cost[i] {
                    "given the other chosen indexes, what it saves does not pay for its upkeep on writes"
                        .into()
                } else {
                    format!(
                        "given the other chosen indexes, it cuts no statement's cost by more than \
                         {:.0}% (less than {:.0}%)",
                        100.0 * best_cut,
                        options.min_savings * 100.0
                    )
                },
            );
            for id in &users[&i] {
                if let Some(p) = final_plans.get(id) {
                    dirty.extend(p.uses.iter().copied().filter(|j| *j != i));
                }
                if let Some(p) = without[&i].get(id) {
                    dirty.extend(p.uses.iter().copied());
                    final_plans.insert(*id, p.clone());
                }
            }
            dropped.push(i);
        }
        session.remove(&dropped).await?;
        for i in &dropped {
            kept.remove(i);
            session.configuration.remove(i);
        }
        if !dropped.is_empty() {
            // The plans (texts) of the statements that moved.
            let moved: BTreeSet<i64> = dropped
                .iter()
                .flat_map(|i| users[i].iter().copied())
                .collect();
            let moved: Vec<i64> = moved.into_iter().collect();
            for (id, result) in session.plan(&moved, &by_id).await {
                if let Ok(plan) = result {
                    final_plans.insert(id, session.planned(&plan));
                    plans.insert(id, plan);
                }
            }
        }
    }

    timings.lap("set: marginal savings");
    // Attribution.
    let users = users_of(&final_plans, &kept);
    let hypothetical_names: Vec<(usize, Vec<String>)> = kept
        .iter()
        .map(|&i| (i, session.every_name.get(&i).cloned().unwrap_or_default()))
        .collect();
    let mut chosen: Vec<IndexProposal> = Vec::new();
    let mut chosen_of: HashMap<usize, usize> = HashMap::new();
    for &i in &kept {
        let mut proposal = space.candidates[i].clone();
        let ids = users.get(&i).cloned().unwrap_or_default();
        proposal.queryids = ids.clone();
        proposal.queries = ids
            .iter()
            .filter_map(|id| by_id.get(id).map(|s| s.query.clone()))
            .collect();
        proposal.workload_time_ms = ids
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|s| s.calls as f64 * s.mean_exec_time)
            .sum();
        proposal.estimated_size_bytes = session.sizes[i].unwrap_or(proposal.estimated_size_bytes);
        proposal.verified = true;
        if let Some(table) = snapshot.table(&proposal.table_name.schema, &proposal.table_name.name)
        {
            proposal.reason = reason_on(snapshot, table, &proposal.access_index(), ids.len());
        }
        chosen_of.insert(i, chosen.len());
        chosen.push(proposal);
    }
    crate::analyze::indexes::space::name_chosen(snapshot, &mut chosen);
    // Plans name hypothetical indexes as hypopg does; show the proposed names.
    let display: HashMap<String, String> = hypothetical_names
        .iter()
        .flat_map(|(i, names)| {
            let shown = format!("{} (hypothetical)", chosen[chosen_of[i]].name);
            names.iter().map(move |n| (n.clone(), shown.clone()))
        })
        .collect();
    let shown = |plan: &PlanSummary| {
        plan.indexes_used
            .iter()
            .filter_map(|n| display.get(n).map(|d| (n, d)))
            .fold(plan.text.clone(), |t, (h, name)| {
                t.replace(h.as_str(), name)
            })
    };
    for (i, names) in &hypothetical_names {
        let proposal = &mut chosen[chosen_of[i]];
        let ids = users.get(i).cloned().unwrap_or_default();
        proposal.plans = ids
            .iter()
            .filter_map(|id| {
                let after = plans.get(id)?;
                Some(ExpectedPlan {
                    queryid: *id,
                    query: by_id.get(id).map(|s| s.query.clone()).unwrap_or_default(),
                    cost_before: *cost0.get(id)?,
                    cost_after: final_plans.get(id)?.cost,
                    node: names.iter().find_map(|n| index_node(&after.nodes, n)),
                })
            })
            .collect();
        proposal.cost_before = Some(proposal.plans.iter().map(|p| p.cost_before).sum());
        proposal.cost_after = Some(proposal.plans.iter().map(|p| p.cost_after).sum());
        proposal.estimated_time_saved_ms = Some(
            proposal
                .plans
                .iter()
                .filter(|p| p.cost_before > 0.0)
                .filter_map(|p| {
                    let s = by_id.get(&p.queryid)?;
                    Some(
                        s.calls as f64
                            * s.mean_exec_time
                            * (1.0 - p.cost_after / p.cost_before).max(0.0),
                    )
                })
                .sum(),
        );
        proposal.marginal_cost_saving = marginal_of.get(i).copied();
    }
    // A statement whose plan reads through several chosen indexes: their
    // saving there is joint, and each says which others it shares it with.
    for planned in final_plans.values() {
        let with: Vec<usize> = planned
            .uses
            .iter()
            .filter_map(|u| chosen_of.get(u).copied())
            .collect();
        for &c in &with {
            for &other in &with {
                let name = chosen[other].name.clone();
                if other != c && !chosen[c].served_with.contains(&name) {
                    chosen[c].served_with.push(name);
                }
            }
        }
    }
    for proposal in &mut chosen {
        proposal.served_with.sort();
    }

    // Every statement that planned, those the set cannot touch included.
    let mut every_id: Vec<i64> = cost0.keys().copied().collect();
    every_id.sort_unstable();
    for id in &every_id {
        let (Some(before), Some(after)) = (cost0.get(id), final_plans.get(id)) else {
            continue;
        };
        let w = weight(*id);
        report.workload_cost_before += w * before;
        report.workload_cost_after += w * after.cost;
    }
    report.total_size_bytes = chosen.iter().map(|p| p.estimated_size_bytes).sum();
    let served: BTreeSet<i64> = chosen
        .iter()
        .flat_map(|p| p.queryids.iter().copied())
        .collect();
    for id in served {
        if let (Some(before), Some(after)) = (baseline.get(&id), plans.get(&id)) {
            report.plans.push(StatementPlans {
                queryid: id,
                cost_before: before.total_cost,
                cost_after: after.total_cost,
                plan_before: before.text.clone(),
                plan_after: shown(after),
            });
        }
    }
    chosen.sort_by(|a, b| {
        b.estimated_time_saved_ms
            .partial_cmp(&a.estimated_time_saved_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.name.cmp(&b.name))
    });
    // The heuristic proposals not chosen, each with why.
    let form = |p: &IndexProposal| (p.table_name.clone(), p.key_specs.clone(), p.partial.clone());
    let chosen_forms: HashSet<_> = chosen.iter().map(form).collect();
    let candidate_of: HashMap<_, usize> = space
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (form(c), i))
        .collect();
    let single_unit: HashMap<usize, usize> = units
        .iter()
        .enumerate()
        .filter(|(_, (members, _))| members.len() == 1)
        .map(|(u, (members, _))| (members[0], u))
        .collect();
    for p in heuristic {
        if chosen_forms.contains(&form(p)) {
            continue;
        }
        let reason = match candidate_of.get(&form(p)) {
            Some(c) => fate
                .get(c)
                .or_else(|| left_out_fate.get(c))
                .cloned()
                .unwrap_or_else(|| match single_unit.get(c) {
                    Some(&u) => alone(
                        &measured[u].costs,
                        &cost0,
                        &weight,
                        write_cost[*c],
                        options.min_savings,
                    ),
                    None => format!(
                        "its statements carry less than {}% of the workload's cost: not worth an \
                         index of their own",
                        MIN_UNIT_SHARE * 100.0
                    ),
                }),
            None => "the chosen indexes serve its statements".to_string(),
        };
        report.rejected.push(RejectedProposal {
            name: p.name.clone(),
            ddl: p.ddl.clone(),
            reason,
        });
    }
    timings.lap("attribution");
    report.timings_ms = timings.laps;
    report.candidates_considered = space.candidates.len();
    report.plans_made = session.plans_made;
    report.hypopg_resets = session.resets;
    whatif.reset().await?;
    Ok(Selection { chosen, report })
}

/// Per candidate, the candidates it extends: same table, method and partial
/// predicate, their keys a prefix of its keys and every column they INCLUDE
/// held by it too, and not the same shape. Every plan through the narrower
/// index can read the wider one.
fn narrower_of(candidates: &[IndexProposal]) -> Vec<Vec<usize>> {
    let mut by_table: HashMap<&QualifiedName, Vec<usize>> = HashMap::new();
    for (at, c) in candidates.iter().enumerate() {
        by_table.entry(&c.table_name).or_default().push(at);
    }
    let mut narrower = vec![Vec::new(); candidates.len()];
    for same_table in by_table.values() {
        for &w in same_table {
            let wide = &candidates[w];
            narrower[w] = same_table
                .iter()
                .copied()
                .filter(|&n| {
                    let narrow = &candidates[n];
                    // Every column the narrower index holds, the wider
                    // holds too: as a key, or INCLUDEd.
                    let held = narrow.include.iter().all(|c| {
                        wide.include.contains(c)
                            || wide.key_specs[narrow.key_specs.len().min(wide.key_specs.len())..]
                                .iter()
                                .any(|k| k.key == KeyTarget::Column(c.clone()))
                    });
                    narrow.method == wide.method
                        && narrow.partial == wide.partial
                        && n != w
                        && narrow.key_specs.len() <= wide.key_specs.len()
                        && wide.key_specs.starts_with(&narrow.key_specs)
                        && held
                        && (narrow.key_specs.len(), narrow.include.len())
                            != (wide.key_specs.len(), wide.include.len())
                })
                .collect();
        }
    }
    narrower
}

/// The chosen candidates that one of `new` extends (see [`narrower_of`]).
fn replaced_by(narrower: &[Vec<usize>], chosen: &BTreeSet<usize>, new: &[usize]) -> Vec<usize> {
    let mut replaced: Vec<usize> = new
        .iter()
        .flat_map(|&w| narrower[w].iter().copied())
        .filter(|n| chosen.contains(n))
        .collect();
    replaced.sort_unstable();
    replaced.dedup();
    replaced
}

/// Why a candidate that was never chosen was not, from its plans alone.
fn alone(
    costs: &[(i64, f64)],
    cost0: &HashMap<i64, f64>,
    weight: &dyn Fn(i64) -> f64,
    write_cost: f64,
    min_savings: f64,
) -> String {
    let saving = gain(costs, cost0, weight, false);
    if saving.total <= 0.0 {
        "the planner does not use it for any of its statements".into()
    } else if !saving.cuts_enough(min_savings) {
        format!(
            "it cuts no statement's cost by more than {:.0}% (less than {:.0}%)",
            100.0 * saving.best_cut,
            min_savings * 100.0
        )
    } else if saving.total <= write_cost {
        "what it saves does not pay for its upkeep on writes".into()
    } else {
        "the chosen indexes serve its statements, as well or better for their size".into()
    }
}

/// What a unit saves over its measured statements given the current costs:
/// the total (calls-weighted), and the largest share of one statement's cost
/// it cuts (what `--min-cost-savings` is compared with).
fn gain(
    costs: &[(i64, f64)],
    cur: &HashMap<i64, f64>,
    weight: &dyn Fn(i64) -> f64,
    signed: bool,
) -> Saving {
    let mut saving = Saving::default();
    for (id, cost) in costs {
        let Some(now) = cur.get(id) else { continue };
        saving.add(weight(*id), *now, *cost, signed);
    }
    saving
}

/// A saving over some statements: the total, and the largest cut of one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Saving {
    /// Σ calls × (cost before − cost after) over the statements it improves.
    total: f64,
    /// The largest `(before − after) / before` among them.
    best_cut: f64,
}

impl Saving {
    /// Whether some statement is cut by at least `share`, compared to a tenth
    /// of a percent: estimates are not more precise, and an index that cuts
    /// a statement by 9.99998% is reported as cutting it by 10%.
    fn cuts_enough(&self, share: f64) -> bool {
        self.best_cut + 0.0005 >= share
    }

    /// A statement's cost going from `before` to `after`. A rise counts only
    /// when `signed` (a widening that replaces an index can make the
    /// statements of the narrower one dearer); otherwise a rise is an
    /// estimate gone stale, since adding an index makes no plan dearer.
    fn add(&mut self, weight: f64, before: f64, after: f64, signed: bool) {
        if after < before || signed {
            self.total += weight * (before - after);
        }
        if after < before && before > 0.0 {
            self.best_cut = self.best_cut.max((before - after) / before);
        }
    }
}

/// An index's saving over the statements that use it, given the others.
fn marginal(
    users: &[i64],
    without: &HashMap<i64, Planned>,
    with: &HashMap<i64, Planned>,
    weight: &dyn Fn(i64) -> f64,
) -> Saving {
    let mut saving = Saving::default();
    for id in users {
        let (Some(w), Some(a)) = (without.get(id), with.get(id)) else {
            continue;
        };
        saving.add(weight(*id), w.cost, a.cost, false);
    }
    saving
}

/// Per kept candidate, the statements whose plans use it.
fn users_of(plans: &HashMap<i64, Planned>, kept: &BTreeSet<usize>) -> HashMap<usize, Vec<i64>> {
    let mut users: HashMap<usize, Vec<i64>> = kept.iter().map(|&i| (i, Vec::new())).collect();
    let mut ids: Vec<&i64> = plans.keys().collect();
    ids.sort_unstable();
    for id in ids {
        for u in &plans[id].uses {
            if let Some(list) = users.get_mut(u) {
                list.push(*id);
            }
        }
    }
    users
}

/// Groups units into batches whose footprints (their tables and their
/// statements' tables) do not overlap, so each statement of a batch sees
/// exactly one unit's indexes besides the configuration.
fn disjoint_batches(
    order: &[usize],
    units: &[(Vec<usize>, Vec<i64>)],
    footprint: &Footprint<'_>,
) -> Vec<Vec<usize>> {
    let mut batches: Vec<(HashSet<QualifiedName>, Vec<usize>, usize)> = Vec::new();
    for &u in order {
        let (members, ids) = &units[u];
        let tables = footprint(members, ids);
        let fits = batches.iter().position(|(claimed, _, indexes)| {
            indexes + members.len() <= BATCH_INDEXES && tables.iter().all(|t| !claimed.contains(t))
        });
        match fits {
            Some(b) => {
                let (claimed, list, indexes) = &mut batches[b];
                claimed.extend(tables);
                list.push(u);
                *indexes += members.len();
            }
            None => batches.push((tables.into_iter().collect(), vec![u], members.len())),
        }
    }
    batches.into_iter().map(|(_, list, _)| list).collect()
}

/// What measuring a unit reads and never changes: the units (members and
/// statements), the statements by queryid, and the tables a unit touches.
struct UnitsInPlay<'u> {
    units: &'u [(Vec<usize>, Vec<i64>)],
    by_id: &'u HashMap<i64, &'u Statement>,
    footprint: &'u Footprint<'u>,
}

/// Measures the units `order` names, in batches on disjoint tables: creates
/// each batch's members, plans their statements, drops what is not in the
/// configuration.
async fn measure(
    session: &mut Hypotheses<'_>,
    in_play: &UnitsInPlay<'_>,
    order: &[usize],
    versions: &HashMap<QualifiedName, u64>,
    measured: &mut [Measurement],
) -> Result<(), VerifyError> {
    for batch in disjoint_batches(order, in_play.units, in_play.footprint) {
        measure_batch(session, in_play, &batch, versions, measured).await?;
    }
    Ok(())
}

async fn measure_batch(
    session: &mut Hypotheses<'_>,
    in_play: &UnitsInPlay<'_>,
    batch: &[usize],
    versions: &HashMap<QualifiedName, u64>,
    measured: &mut [Measurement],
) -> Result<(), VerifyError> {
    let UnitsInPlay {
        units,
        by_id,
        footprint,
    } = *in_play;
    let mut members: Vec<usize> = batch
        .iter()
        .flat_map(|&u| units[u].0.iter().copied())
        .filter(|m| !session.configuration.contains(m))
        .collect();
    members.sort_unstable();
    members.dedup();
    // Chosen indexes a member widens are absent while it is measured: the
    // unit stands for the replacement (units in a batch share no table, so
    // no other unit's plans lose them).
    let replaced = replaced_by(&session.narrower, &session.configuration, &members);
    session.create(&members).await?;
    session.remove(&replaced).await?;
    // A unit standing for a replacement also plans the statements of the
    // index it replaces: with that one gone, they read the wider one (or nothing).
    let ids_of = |u: usize| -> Vec<i64> {
        let (unit_members, unit_ids) = &units[u];
        let mut ids = unit_ids.clone();
        for m in unit_members {
            for n in &session.narrower[*m] {
                if replaced.contains(n) {
                    ids.extend(
                        session.built_for[*n]
                            .iter()
                            .filter(|id| by_id.contains_key(id)),
                    );
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let unit_ids: Vec<Vec<i64>> = batch.iter().map(|&u| ids_of(u)).collect();
    let ids: Vec<i64> = unit_ids.iter().flatten().copied().collect();
    let results = session.plan(&ids, by_id).await;
    session.remove(&members).await?;
    session.create(&replaced).await?;
    for (&u, unit_ids) in batch.iter().zip(&unit_ids) {
        let (unit_members, _) = &units[u];
        let costs = unit_ids
            .iter()
            .filter_map(|id| {
                let plan = results.get(id)?.as_ref().ok()?;
                Some((*id, plan.total_cost))
            })
            .collect();
        let tables = footprint(unit_members, unit_ids);
        measured[u] = Measurement {
            costs,
            versions: tables
                .into_iter()
                .map(|t| {
                    let v = versions.get(&t).copied().unwrap_or(0);
                    (t, v)
                })
                .collect(),
        };
    }
    Ok(())
}

/// What keeping the index costs on writes, in the planner's cost units: per
/// row written to its table (inserts and non-HOT updates since the
/// statistics were reset; for a partial index, the share its predicate
/// keeps) the CPU cost of one index insertion as the planner counts CPU:
/// `cpu_index_tuple_cost + cpu_operator_cost × log2(rows)`. I/O (WAL, dirty
/// pages) is not counted.
fn write_cost(snapshot: &Snapshot, candidate: &IndexProposal) -> f64 {
    let setting = |name: &str, default: f64| {
        snapshot
            .setting(name)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let per_entry = |rows: f64| {
        setting("cpu_index_tuple_cost", 0.005)
            + setting("cpu_operator_cost", 0.0025) * rows.max(2.0).log2()
    };
    let leaves = snapshot.leaf_tables(&candidate.table_name);
    let mut cost = 0.0;
    for table in leaves {
        let Some(stats) = &table.stats else { continue };
        let written = stats.n_tup_ins + (stats.n_tup_upd - stats.n_tup_hot_upd).max(0);
        cost += written as f64 * per_entry(table.reltuples);
    }
    cost * candidate.predicate_fraction.unwrap_or(1.0)
}

/// The hypopg statements standing for a candidate: the index itself, or on a
/// partitioned table (where hypopg cannot create one) the same definition on
/// every leaf partition.
fn hypothetical_statements(snapshot: &Snapshot, candidate: &IndexProposal) -> Vec<String> {
    let partitioned = snapshot
        .table(&candidate.table_name.schema, &candidate.table_name.name)
        .is_some_and(|t| t.kind == TableKind::PartitionedTable);
    if !partitioned {
        return vec![candidate.hypothetical_sql.clone()];
    }
    snapshot
        .leaf_tables(&candidate.table_name)
        .into_iter()
        .map(|leaf| {
            format!(
                "CREATE INDEX ON {} {}",
                crate::ident::qualified(&leaf.schema, &leaf.name),
                candidate.definition_tail
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(specs: &[(&[usize], &[i64])]) -> Vec<(Vec<usize>, Vec<i64>)> {
        specs
            .iter()
            .map(|(m, ids)| (m.to_vec(), ids.to_vec()))
            .collect()
    }

    #[test]
    fn batches_never_share_a_table() {
        let name = |t: &str| QualifiedName::new("public", t);
        // Unit members 0..3 on tables a, a, b; statement 10 joins a and b.
        let tables = [name("a"), name("a"), name("b")];
        let footprint = |members: &[usize], ids: &[i64]| {
            let mut t: Vec<QualifiedName> = members.iter().map(|&m| tables[m].clone()).collect();
            if ids.contains(&10) {
                t.push(name("a"));
                t.push(name("b"));
            }
            t.sort();
            t.dedup();
            t
        };
        let list = units(&[(&[0], &[1]), (&[1], &[2]), (&[2], &[3]), (&[2], &[10])]);
        let batches = disjoint_batches(&[0, 1, 2, 3], &list, &footprint);
        assert_eq!(batches, vec![vec![0, 2], vec![1], vec![3]]);
    }

    #[test]
    fn narrower_indexes_are_prefixes_holding_no_column_the_wider_lacks() {
        use crate::analyze::indexes::candidate::CandidateKey;
        let key = |c: &str| CandidateKey {
            key: KeyTarget::Column(c.into()),
            descending: false,
            nulls_reversed: false,
            opclass: None,
        };
        let index = |table: &str, keys: &[&str], include: &[&str]| IndexProposal {
            table_name: QualifiedName::new("public", table),
            method: crate::analyze::indexes::AccessMethod::Btree,
            key_specs: keys.iter().map(|k| key(k)).collect(),
            include: include.iter().map(|c| c.to_string()).collect(),
            ..IndexProposal::default()
        };
        let candidates = [
            index("t", &["a"], &[]),               // 0
            index("t", &["a", "b"], &[]),          // 1
            index("t", &["a"], &["id"]),           // 2
            index("t", &["a", "b"], &["id"]),      // 3
            index("t", &["a", "id"], &[]),         // 4
            index("t", &["b"], &["id"]),           // 5
            index("u", &["a", "b"], &[]),          // 6: another table
            index("t", &["a"], &["id", "status"]), // 7
        ];
        let narrower = narrower_of(&candidates);
        let expected: [&[usize]; 8] = [&[], &[0], &[0], &[0, 1, 2], &[0, 2], &[], &[], &[0, 2]];
        for (at, want) in expected.iter().enumerate() {
            let mut got = narrower[at].clone();
            got.sort_unstable();
            assert_eq!(&got, want, "narrower than candidate {at}");
        }
    }

    #[test]
    fn gain_counts_only_statements_the_unit_improves() {
        let cur: HashMap<i64, f64> = [(1, 100.0), (2, 50.0), (3, 10.0)].into_iter().collect();
        let weight = |id: i64| if id == 1 { 2.0 } else { 1.0 };
        let saving = gain(&[(1, 40.0), (2, 60.0), (3, 5.0)], &cur, &weight, false);
        assert_eq!(saving.total, 2.0 * 60.0 + 5.0);
        // A replacement counts the statement it makes dearer.
        let signed = gain(&[(1, 40.0), (2, 60.0), (3, 5.0)], &cur, &weight, true);
        assert_eq!(signed.total, 2.0 * 60.0 - 10.0 + 5.0);
        // Statement 1 is cut by 60%, statement 3 by 50%; statement 2 not at all.
        assert_eq!(saving.best_cut, 0.6);
    }

    #[test]
    fn marginal_saving_is_measured_against_the_plan_without_the_index() {
        let planned = |cost: f64| Planned {
            cost,
            uses: Vec::new(),
        };
        let without: HashMap<i64, Planned> = [(1, planned(100.0)), (2, planned(30.0))]
            .into_iter()
            .collect();
        let with: HashMap<i64, Planned> = [(1, planned(10.0)), (2, planned(30.0))]
            .into_iter()
            .collect();
        let saving = marginal(&[1, 2], &without, &with, &|_| 1.0);
        assert_eq!(saving.total, 90.0);
        assert_eq!(saving.best_cut, 0.9);
    }
}
