//! A health rule's drop as a [`Migration`]: `DROP INDEX CONCURRENTLY IF
//! EXISTS`, with the index's own definition rebuilt concurrently as the down
//! migration; for an INVALID index, drop then build again (nothing to undo).

use super::index::{build_settings, MigrationOptions};
use super::{Migration, Step};
use crate::analyze::health::DropProposal;
use crate::analyze::indexes::render::slug;
use crate::format::bytes;

fn verb(drop: &DropProposal) -> &'static str {
    if drop.rebuild {
        "rebuild"
    } else {
        "drop"
    }
}

/// The migration's name, which its files carry: `drop_<index>`, or
/// `rebuild_<index>` for an invalid one.
pub fn migration_name(drop: &DropProposal) -> String {
    let index = drop.index.rsplit('.').next().unwrap_or(&drop.index);
    format!("{}_{}", verb(drop), slug(index))
}

/// The migration for `drop`. Its statements come from the health rule, which
/// quoted every identifier; they are sent one at a time, outside a transaction.
pub fn drop_migration(drop: &DropProposal, options: &MigrationOptions) -> Migration {
    let statement = |sql: &str| Step::Sql(sql.trim().trim_end_matches(';').to_string());
    let up: Vec<Step> = drop.up().into_iter().map(statement).collect();
    let down: Vec<Step> = drop.down().into_iter().map(statement).collect();
    let mut header = vec![
        format!(
            "{} index {} on {} ({}, {}).",
            if drop.rebuild { "Rebuilds" } else { "Drops" },
            drop.index,
            drop.table,
            drop.rule,
            bytes(drop.size_bytes)
        ),
        format!("Why: {}", drop.reason),
        "The index backs no constraint and no foreign key depends on it (pgadvise checks both before proposing a drop).".to_string(),
    ];
    if drop.rebuild {
        header.push(
            "A failed CREATE INDEX CONCURRENTLY left it INVALID: it costs writes and serves no query. \
             The up migration drops it and builds it again; there is nothing to undo."
                .to_string(),
        );
        header.push(
            "If the build fails again it leaves a new INVALID index: find it with \
             SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid; fix the cause \
             (for a unique index, the duplicate rows) and run this migration again."
                .to_string(),
        );
    } else {
        header.push(
            "Down migration: the index's own definition (pg_get_indexdef), built CONCURRENTLY IF NOT EXISTS."
                .to_string(),
        );
    }
    Migration {
        id: format!("{}_index {}", verb(drop), drop.index),
        name: migration_name(drop),
        header,
        up,
        down,
        settings: build_settings(options),
        statements_run_alone: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rule::RuleId;

    fn proposal(rebuild: bool) -> DropProposal {
        DropProposal {
            index: "public.orders_status_idx".into(),
            table: "public.orders".into(),
            rule: if rebuild {
                RuleId::InvalidIndex
            } else {
                RuleId::RedundantIndex
            },
            reason: "a left prefix of orders_status_created_at_idx".into(),
            drop_sql: "DROP INDEX CONCURRENTLY IF EXISTS public.orders_status_idx;".into(),
            recreate_sql: "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON public.orders USING btree (status);".into(),
            rebuild,
            size_bytes: 8192,
        }
    }

    #[test]
    fn a_drop_is_undone_by_its_own_definition_and_a_rebuild_by_nothing() {
        let options = MigrationOptions::default();
        let drop = drop_migration(&proposal(false), &options);
        assert_eq!(drop.id, "drop_index public.orders_status_idx");
        assert_eq!(drop.name, "drop_orders_status_idx");
        let up: Vec<String> = drop.up.iter().map(Step::sql).collect();
        assert_eq!(
            up,
            ["DROP INDEX CONCURRENTLY IF EXISTS public.orders_status_idx"]
        );
        let down: Vec<String> = drop.down.iter().map(Step::sql).collect();
        assert_eq!(
            down,
            ["CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON public.orders USING btree (status)"]
        );
        assert!(drop.statements_run_alone);

        let rebuild = drop_migration(&proposal(true), &options);
        assert_eq!(rebuild.name, "rebuild_orders_status_idx");
        assert_eq!(rebuild.up.len(), 2);
        assert!(rebuild.down.is_empty());
        assert!(rebuild.header.iter().any(|l| l.contains("NOT indisvalid")));
    }
}
