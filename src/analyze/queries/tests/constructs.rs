//! Statement constructs: joins, sorts, grouping, subqueries, CTEs, views,
//! set operations, DML forms and locking.

use super::*;

fn join(key: &str, other: &str, other_key: &str) -> JoinCondition {
    JoinCondition {
        key: col(key),
        other_table: public(other),
        other_key: col(other_key),
        semi_join: false,
    }
}

fn semi(key: &str, other: &str, other_key: &str) -> JoinCondition {
    JoinCondition {
        semi_join: true,
        ..join(key, other, other_key)
    }
}

fn asc(key: IndexKey) -> SortKey {
    SortKey {
        key,
        direction: SortDirection::Asc,
        nulls: NullsOrder::Last,
    }
}

fn desc(key: IndexKey) -> SortKey {
    SortKey {
        key,
        direction: SortDirection::Desc,
        nulls: NullsOrder::First,
    }
}

#[test]
fn join_columns_are_recorded_on_both_sides() {
    let shape = shape_of(
        "SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id AND u.active WHERE o.status = $1 ORDER BY o.created_at DESC",
    );
    let orders = only_access(&shape, "orders");
    let users = only_access(&shape, "users");
    assert_eq!(orders.joins, vec![join("user_id", "users", "id")]);
    assert_eq!(users.joins, vec![join("id", "orders", "user_id")]);
    assert_eq!(
        users.filters,
        vec![pred(col("active"), PredicateOp::IsTrue, Operand::None)]
    );
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(orders.sort, vec![desc(col("created_at"))]);
    assert!(users.sort.is_empty(), "the sort belongs to orders");
    assert!(orders.flags.order_by && users.flags.order_by);
}

#[test]
fn unqualified_columns_resolve_through_catalog_column_lists() {
    // `status` only exists in orders, `email` only in users; `id` is ambiguous and ignored.
    let shape = shape_of(
        "SELECT email FROM users, orders WHERE user_id = users.id AND status = $1 AND id = $2",
    );
    let orders = only_access(&shape, "orders");
    let users = only_access(&shape, "users");
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(orders.joins, vec![join("user_id", "users", "id")]);
    assert!(users.filters.is_empty());
    assert_eq!(users.columns_read, ["email", "id"]);
    // A column no table has is ignored, not a failure.
    let shape = shape_of("SELECT 1 FROM users, orders WHERE no_such_column = $1");
    assert!(shape.accesses.iter().all(|a| a.filters.is_empty()));
}

#[test]
fn join_using_and_outer_join_filters() {
    let shape = shape_of("SELECT 1 FROM orders o JOIN users u USING (id)");
    assert_eq!(
        only_access(&shape, "orders").joins,
        vec![join("id", "users", "id")]
    );

    // In a LEFT JOIN's ON clause, a condition on the preserved (left) side filters nothing.
    let shape = shape_of(
        "SELECT 1 FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.status = $1 AND u.active WHERE u.org_id = $2",
    );
    let users = only_access(&shape, "users");
    let orders = only_access(&shape, "orders");
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(
        users.filters,
        vec![pred(col("org_id"), PredicateOp::Equal, param(2))]
    );
    assert_eq!(users.joins, vec![join("id", "orders", "user_id")]);
}

#[test]
fn sort_keys_directions_nulls_and_references() {
    let cases: Vec<(&str, Vec<SortKey>)> = vec![
        (
            "SELECT * FROM users ORDER BY created_at",
            vec![asc(col("created_at"))],
        ),
        (
            "SELECT * FROM users ORDER BY org_id, created_at DESC",
            vec![asc(col("org_id")), desc(col("created_at"))],
        ),
        (
            "SELECT * FROM users ORDER BY created_at DESC NULLS LAST",
            vec![SortKey {
                key: col("created_at"),
                direction: SortDirection::Desc,
                nulls: NullsOrder::Last,
            }],
        ),
        (
            "SELECT * FROM users ORDER BY name ASC NULLS FIRST",
            vec![SortKey {
                key: col("name"),
                direction: SortDirection::Asc,
                nulls: NullsOrder::First,
            }],
        ),
        // By position and by output name.
        (
            "SELECT email, created_at FROM users ORDER BY 2 DESC",
            vec![desc(col("created_at"))],
        ),
        (
            "SELECT created_at AS joined FROM users ORDER BY joined",
            vec![asc(col("created_at"))],
        ),
        (
            "SELECT * FROM users ORDER BY lower(email)",
            vec![asc(expr_key("lower(email)", &["email"]))],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(only_access(&shape_of(sql), "users").sort, expected, "{sql}");
    }
    // Keys spanning two tables: no single scan can deliver the order.
    let shape = shape_of(
        "SELECT 1 FROM users u JOIN orders o ON o.user_id = u.id ORDER BY u.name, o.created_at",
    );
    assert!(shape
        .accesses
        .iter()
        .all(|a| a.sort.is_empty() && a.flags.order_by));
}

#[test]
fn group_by_distinct_on_and_distinct() {
    let shape = shape_of("SELECT org_id, count(*) FROM users WHERE active GROUP BY org_id");
    let users = only_access(&shape, "users");
    assert_eq!(users.group_by, vec![col("org_id")]);
    assert!(users.flags.count_star);

    let shape = shape_of("SELECT date(created_at), count(*) FROM users GROUP BY 1");
    assert_eq!(
        only_access(&shape, "users").group_by,
        vec![expr_key("date(created_at)", &["created_at"])]
    );

    let shape = shape_of(
        "SELECT DISTINCT ON (user_id) user_id, created_at FROM orders ORDER BY user_id, created_at DESC",
    );
    let orders = only_access(&shape, "orders");
    assert_eq!(orders.distinct_on, vec![col("user_id")]);
    assert_eq!(
        orders.sort,
        vec![asc(col("user_id")), desc(col("created_at"))]
    );
    assert!(orders.flags.distinct);

    let shape = shape_of("SELECT DISTINCT status FROM orders");
    let orders = only_access(&shape, "orders");
    assert!(orders.flags.distinct && orders.distinct_on.is_empty());
}

#[test]
fn exists_and_in_subqueries_are_semi_joins() {
    let shape = shape_of(
        "SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.status = $1)",
    );
    let users = only_access(&shape, "users");
    let orders = only_access(&shape, "orders");
    assert_eq!(orders.origin, AccessOrigin::Subquery);
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(orders.joins, vec![join("user_id", "users", "id")]);
    assert_eq!(users.joins, vec![join("id", "orders", "user_id")]);

    let shape =
        shape_of("SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > $1)");
    let users = only_access(&shape, "users");
    assert_eq!(
        users.filters,
        vec![pred(col("id"), PredicateOp::InSubquery, Operand::Subquery)]
    );
    assert_eq!(users.joins, vec![semi("id", "orders", "user_id")]);
    assert_eq!(
        only_access(&shape, "orders").filters,
        vec![pred(col("total"), PredicateOp::Greater, param(1))]
    );

    // A scalar subquery in the select list is its own access.
    let shape = shape_of(
        "SELECT u.id, (SELECT max(o.created_at) FROM orders o WHERE o.user_id = u.id) FROM users u",
    );
    assert_eq!(only_access(&shape, "orders").origin, AccessOrigin::Subquery);
    assert_eq!(
        only_access(&shape, "orders").joins,
        vec![join("user_id", "users", "id")]
    );
}

#[test]
fn derived_tables_push_predicates_down_unless_fenced() {
    // An inlinable subquery: the outer predicate and sort land on the base table.
    let shape = shape_of(
        "SELECT * FROM (SELECT id AS user_id, email FROM users WHERE active) s WHERE s.email = $1 ORDER BY s.user_id LIMIT 5",
    );
    let users = only_access(&shape, "users");
    assert_eq!(
        users.filters,
        vec![
            pred(col("active"), PredicateOp::IsTrue, Operand::None),
            pred(col("email"), PredicateOp::Equal, param(1)),
        ]
    );
    assert_eq!(users.sort, vec![asc(col("id"))]);
    assert!(users.flags.limit);

    // LIMIT inside makes the subquery a fence: outer conditions stay outside.
    let shape = shape_of(
        "SELECT * FROM (SELECT id, email FROM users ORDER BY id LIMIT 10) s WHERE s.email = $1",
    );
    let users = only_access(&shape, "users");
    assert!(users.filters.is_empty());
    assert_eq!(users.sort, vec![asc(col("id"))]);
}

#[test]
fn lateral_subquery_sees_the_outer_row() {
    let shape = shape_of(
        "SELECT u.id, o.* FROM users u CROSS JOIN LATERAL (SELECT * FROM orders WHERE orders.user_id = u.id ORDER BY created_at DESC LIMIT 3) o WHERE u.org_id = $1",
    );
    let orders = only_access(&shape, "orders");
    assert_eq!(orders.joins, vec![join("user_id", "users", "id")]);
    assert_eq!(orders.sort, vec![desc(col("created_at"))]);
    assert!(orders.flags.limit && orders.flags.select_star);
    assert_eq!(
        only_access(&shape, "users").filters,
        vec![pred(col("org_id"), PredicateOp::Equal, param(1))]
    );
}

#[test]
fn ctes_inline_once_and_fence_when_materialized_or_shared() {
    // Referenced once, not MATERIALIZED: PostgreSQL inlines it.
    let shape = shape_of("WITH recent AS (SELECT * FROM orders WHERE created_at > $1) SELECT * FROM recent WHERE status = $2");
    let orders = only_access(&shape, "orders");
    assert_eq!(
        orders.origin,
        AccessOrigin::Cte {
            name: "recent".into(),
            fenced: false,
        }
    );
    assert_eq!(
        orders.filters,
        vec![
            pred(col("created_at"), PredicateOp::Greater, param(1)),
            pred(col("status"), PredicateOp::Equal, param(2)),
        ]
    );

    // MATERIALIZED: its own access, outer predicates do not reach it.
    let shape = shape_of(
        "WITH recent AS MATERIALIZED (SELECT * FROM orders WHERE created_at > $1) SELECT * FROM recent WHERE status = $2",
    );
    let orders = only_access(&shape, "orders");
    assert_eq!(
        orders.origin,
        AccessOrigin::Cte {
            name: "recent".into(),
            fenced: true,
        }
    );
    assert_eq!(
        orders.filters,
        vec![pred(col("created_at"), PredicateOp::Greater, param(1))]
    );

    // Referenced twice: materialized by PostgreSQL, so fenced too.
    let shape = shape_of(
        "WITH r AS (SELECT user_id FROM orders WHERE status = $1) SELECT * FROM r a JOIN r b ON a.user_id = b.user_id WHERE a.user_id = $2",
    );
    let orders = only_access(&shape, "orders");
    assert_eq!(
        orders.origin,
        AccessOrigin::Cte {
            name: "r".into(),
            fenced: true,
        }
    );
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
    assert!(orders.joins.is_empty());
}

#[test]
fn union_branches_are_separate_accesses() {
    let shape = shape_of(
        "SELECT id FROM users WHERE email = $1 UNION ALL SELECT user_id FROM orders WHERE status = $2 ORDER BY 1 LIMIT 10",
    );
    assert_eq!(shape.kind, StatementKind::Select);
    let users = only_access(&shape, "users");
    let orders = only_access(&shape, "orders");
    assert_eq!(
        users.filters,
        vec![pred(col("email"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(2))]
    );
    assert!(
        users.sort.is_empty() && !users.flags.limit,
        "ORDER BY/LIMIT apply to the union, not a branch"
    );
}

#[test]
fn views_map_to_base_columns() {
    // A plain view column maps to the base column; the view's own WHERE comes along.
    let shape = shape_of("SELECT email FROM active_users WHERE org_id = $1 ORDER BY id");
    let users = only_access(&shape, "users");
    assert_eq!(users.table, public("users"));
    assert_eq!(users.via_views, vec![public("active_users")]);
    assert_eq!(users.referenced_as, Some(public("active_users")));
    assert_eq!(
        users.filters,
        vec![
            pred(col("active"), PredicateOp::IsTrue, Operand::None),
            pred(col("org_id"), PredicateOp::Equal, param(1)),
        ]
    );
    assert_eq!(users.sort, vec![asc(col("id"))]);

    // A computed view column maps to an expression key; views over views too.
    for view in ["user_emails", "recent_user_emails"] {
        let shape = shape_of(&format!("SELECT user_id FROM {view} WHERE email_lc = $1"));
        let users = only_access(&shape, "users");
        assert_eq!(
            users.filters,
            vec![pred(
                expr_key("lower(email)", &["email"]),
                PredicateOp::Equal,
                param(1)
            )],
            "{view}"
        );
    }
    assert_eq!(
        only_access(&shape_of("SELECT 1 FROM recent_user_emails"), "users").via_views,
        vec![public("recent_user_emails"), public("user_emails")]
    );
}

#[test]
fn partitions_report_on_the_parent() {
    let shape = shape_of("SELECT * FROM traffic_events_2024_01 WHERE event_date = $1");
    let traffic = only_access(&shape, "traffic_events");
    assert_eq!(
        traffic.referenced_as,
        Some(public("traffic_events_2024_01"))
    );
    assert_eq!(
        traffic.filters,
        vec![pred(col("event_date"), PredicateOp::Equal, param(1))]
    );

    let shape = shape_of("SELECT total FROM daily_stats WHERE day = $1");
    assert_eq!(
        only_access(&shape, "daily_stats").filters,
        vec![pred(col("day"), PredicateOp::Equal, param(1))]
    );
}

#[test]
fn insert_select_and_on_conflict() {
    let shape = shape_of(
        "INSERT INTO processed_messages (message_id, consumer_group) SELECT id, $1 FROM messages WHERE conversation_id = $2 ON CONFLICT (message_id, consumer_group) DO NOTHING",
    );
    assert_eq!(shape.kind, StatementKind::Insert);
    let target = only_access(&shape, "processed_messages");
    assert_eq!(target.role, AccessRole::InsertTarget);
    assert_eq!(
        target.on_conflict,
        Some(OnConflictShape {
            target: ConflictTarget::Columns(vec!["message_id".into(), "consumer_group".into()]),
            action: ConflictAction::DoNothing,
        })
    );
    assert_eq!(
        only_access(&shape, "messages").filters,
        vec![pred(col("conversation_id"), PredicateOp::Equal, param(2))]
    );

    let shape = shape_of(
        "INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT ON CONSTRAINT users_pkey DO UPDATE SET email = EXCLUDED.email",
    );
    assert_eq!(
        only_access(&shape, "users").on_conflict,
        Some(OnConflictShape {
            target: ConflictTarget::Constraint("users_pkey".into()),
            action: ConflictAction::DoUpdate,
        })
    );
}

#[test]
fn update_from_and_delete_using() {
    let shape = shape_of("UPDATE orders o SET status = $1 FROM users u WHERE u.id = o.user_id AND u.archived AND o.status = $2");
    let orders = only_access(&shape, "orders");
    let users = only_access(&shape, "users");
    assert_eq!(orders.role, AccessRole::UpdateTarget);
    assert_eq!(users.role, AccessRole::Read);
    assert_eq!(orders.joins, vec![join("user_id", "users", "id")]);
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(2))]
    );
    assert_eq!(
        users.filters,
        vec![pred(col("archived"), PredicateOp::IsTrue, Operand::None)]
    );

    let shape = shape_of(
        "DELETE FROM orders USING users WHERE orders.user_id = users.id AND users.archived",
    );
    assert_eq!(only_access(&shape, "orders").role, AccessRole::DeleteTarget);
    assert_eq!(
        only_access(&shape, "orders").joins,
        vec![join("user_id", "users", "id")]
    );

    let shape = shape_of("WITH gone AS (DELETE FROM orders WHERE created_at < $1 RETURNING id) SELECT count(*) FROM gone");
    let orders = only_access(&shape, "orders");
    assert_eq!(orders.role, AccessRole::DeleteTarget);
    assert_eq!(
        orders.origin,
        AccessOrigin::Cte {
            name: "gone".into(),
            fenced: true,
        }
    );
}

#[test]
fn row_locks_and_their_targets() {
    let shape = shape_of("SELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1 FOR SHARE OF o NOWAIT");
    assert_eq!(
        only_access(&shape, "orders").row_lock,
        Some(RowLock {
            strength: LockStrength::Share,
            wait: LockWait::Nowait,
        })
    );
    assert_eq!(only_access(&shape, "users").row_lock, None);
    let shape = shape_of("SELECT * FROM orders WHERE id = $1 FOR UPDATE");
    assert_eq!(
        only_access(&shape, "orders").row_lock,
        Some(RowLock {
            strength: LockStrength::Update,
            wait: LockWait::Wait,
        })
    );
}

#[test]
fn weaker_lock_strengths_survive_the_parser() {
    let shape = shape_of("SELECT id FROM outbox_events WHERE published_at IS NULL LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED");
    assert_eq!(
        only_access(&shape, "outbox_events").row_lock,
        Some(RowLock {
            strength: LockStrength::NoKeyUpdate,
            wait: LockWait::SkipLocked,
        })
    );
    let shape = shape_of("SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE");
    assert_eq!(
        only_access(&shape, "users")
            .row_lock
            .as_ref()
            .map(|l| l.strength),
        Some(LockStrength::KeyShare)
    );
}

#[test]
fn select_star_and_columns_read() {
    let shape = shape_of(
        "SELECT u.*, o.status FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > $1",
    );
    let users = only_access(&shape, "users");
    let orders = only_access(&shape, "orders");
    assert!(users.flags.select_star && !orders.flags.select_star);
    // Clause order: join conditions, select list, WHERE.
    assert_eq!(orders.columns_read, ["user_id", "status", "total"]);
}

#[test]
fn fetch_first_counts_as_limit() {
    let shape = shape_of("SELECT id FROM users ORDER BY id FETCH FIRST 10 ROWS ONLY");
    assert!(only_access(&shape, "users").flags.limit);
}
