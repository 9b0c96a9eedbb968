//! How each predicate form is filed: one table of `WHERE` clauses over
//! `users`, each with the filters it must yield.

use super::*;

fn lit(text: &str) -> Operand {
    Operand::Literal(text.to_string())
}

fn users_filters(where_clause: &str) -> Vec<Predicate> {
    let sql = format!("SELECT id FROM users u WHERE {where_clause}");
    only_access(&shape_of(&sql), "users").filters.clone()
}

#[test]
fn predicate_forms_on_one_table() {
    use PredicateOp::*;
    let cases: Vec<(&str, Vec<Predicate>)> = vec![
        // Equality, either side, qualified or not.
        ("email = $1", vec![pred(col("email"), Equal, param(1))]),
        ("$1 = u.email", vec![pred(col("email"), Equal, param(1))]),
        ("users_not_aliased_is_opaque = 1", vec![]),
        ("org_id = 7", vec![pred(col("org_id"), Equal, lit("7"))]),
        (
            "email IS NOT DISTINCT FROM $1",
            vec![pred(col("email"), IsNotDistinctFrom, param(1))],
        ),
        (
            "org_id IN ($1, $2, $3)",
            vec![pred(
                col("org_id"),
                InList { items: 3 },
                Operand::List { items: 3 },
            )],
        ),
        (
            "org_id = ANY($1)",
            vec![pred(col("org_id"), EqualAny, param(1))],
        ),
        (
            "org_id = ANY($1::int[])",
            vec![pred(col("org_id"), EqualAny, cast_param(1, "INT[]"))],
        ),
        // Ranges, flipped when the column is on the right.
        (
            "created_at < $1",
            vec![pred(col("created_at"), Less, param(1))],
        ),
        (
            "created_at <= $1",
            vec![pred(col("created_at"), LessOrEqual, param(1))],
        ),
        (
            "$1 < created_at",
            vec![pred(col("created_at"), Greater, param(1))],
        ),
        (
            "$1 >= created_at",
            vec![pred(col("created_at"), LessOrEqual, param(1))],
        ),
        (
            "created_at BETWEEN $1 AND $2",
            vec![pred(
                col("created_at"),
                Between,
                Operand::Expression("$1 AND $2".into()),
            )],
        ),
        (
            "email LIKE 'ann%'",
            vec![pred(
                col("email"),
                LikePrefix {
                    prefix: "ann".into(),
                },
                lit("'ann%'"),
            )],
        ),
        (
            "email LIKE 'a\\_b%'",
            vec![pred(
                col("email"),
                LikePrefix {
                    prefix: "a_b".into(),
                },
                lit("'a\\_b%'"),
            )],
        ),
        (
            "email LIKE $1",
            vec![pred(col("email"), LikeParameter, param(1))],
        ),
        // Nulls and booleans.
        (
            "name IS NULL",
            vec![pred(col("name"), IsNull, Operand::None)],
        ),
        (
            "name IS NOT NULL",
            vec![pred(col("name"), IsNotNull, Operand::None)],
        ),
        ("active", vec![pred(col("active"), IsTrue, Operand::None)]),
        (
            "NOT archived",
            vec![pred(col("archived"), IsFalse, Operand::None)],
        ),
        (
            "u.active = true",
            vec![pred(col("active"), IsTrue, Operand::None)],
        ),
        (
            "active = false",
            vec![pred(col("active"), IsFalse, Operand::None)],
        ),
        (
            "active IS TRUE",
            vec![pred(col("active"), IsTrue, Operand::None)],
        ),
        (
            "archived IS FALSE",
            vec![pred(col("archived"), IsFalse, Operand::None)],
        ),
        (
            "archived IS NOT TRUE",
            vec![pred(col("archived"), Negated, Operand::None)],
        ),
        // Expressions over a column: expression index keys, canonical text.
        (
            "lower(email) = $1",
            vec![pred(expr_key("lower(email)", &["email"]), Equal, param(1))],
        ),
        (
            "LOWER(u.Email) = $1",
            vec![pred(expr_key("lower(email)", &["email"]), Equal, param(1))],
        ),
        (
            "date(created_at) = $1",
            vec![pred(
                expr_key("date(created_at)", &["created_at"]),
                Equal,
                param(1),
            )],
        ),
        (
            "created_at::date = $1",
            vec![pred(
                expr_key("created_at::DATE", &["created_at"]),
                Equal,
                param(1),
            )],
        ),
        (
            "coalesce(name, email) = $1",
            vec![pred(
                expr_key("coalesce(name, email)", &["name", "email"]),
                Equal,
                param(1),
            )],
        ),
        // A parameter inside the expression: not an index key.
        ("created_at + $1 > now()", vec![]),
        // Non-indexable forms, kept for anti-pattern rules.
        ("email <> $1", vec![pred(col("email"), NotEqual, param(1))]),
        ("email != $1", vec![pred(col("email"), NotEqual, param(1))]),
        (
            "email LIKE '%@example.com'",
            vec![pred(
                col("email"),
                LeadingWildcardLike,
                lit("'%@example.com'"),
            )],
        ),
        (
            "email LIKE '_x'",
            vec![pred(col("email"), LeadingWildcardLike, lit("'_x'"))],
        ),
        (
            "email ILIKE 'ann%'",
            vec![pred(
                col("email"),
                ILike {
                    pattern: "'ann%'".into(),
                },
                lit("'ann%'"),
            )],
        ),
        (
            "email NOT LIKE 'a%'",
            vec![pred(col("email"), NotLike, lit("'a%'"))],
        ),
        (
            "org_id NOT IN (1, 2)",
            vec![pred(
                col("org_id"),
                NotInList { items: 2 },
                Operand::List { items: 2 },
            )],
        ),
        (
            "created_at NOT BETWEEN $1 AND $2",
            vec![pred(
                col("created_at"),
                NotBetween,
                Operand::Expression("$1 AND $2".into()),
            )],
        ),
        (
            "email IS DISTINCT FROM $1",
            vec![pred(col("email"), IsDistinctFrom, param(1))],
        ),
        (
            "NOT (email = $1)",
            vec![pred(col("email"), NotEqual, param(1))],
        ),
        (
            "NOT (org_id IN (1))",
            vec![pred(
                col("org_id"),
                NotInList { items: 1 },
                Operand::List { items: 1 },
            )],
        ),
        (
            "org_id <> ALL($1)",
            vec![pred(col("org_id"), NotEqual, param(1))],
        ),
        // Other operators: recorded for non-btree index rules.
        (
            "name ~ $1",
            vec![pred(col("name"), Operator("~".into()), param(1))],
        ),
        // Comparing two columns of the same row constrains neither.
        ("created_at > u.id", vec![]),
        // Several conjuncts keep source order; parentheses do not matter.
        (
            "(org_id = $1) AND (active AND created_at >= $2)",
            vec![
                pred(col("org_id"), Equal, param(1)),
                pred(col("active"), IsTrue, Operand::None),
                pred(col("created_at"), GreaterOrEqual, param(2)),
            ],
        ),
    ];
    for (where_clause, expected) in cases {
        assert_eq!(
            users_filters(where_clause),
            expected,
            "WHERE {where_clause}"
        );
    }
}

#[test]
fn predicate_classes() {
    use PredicateClass::*;
    let cases = [
        ("email = $1", Equality),
        ("org_id IN (1, 2)", Equality),
        ("org_id = ANY($1)", Equality),
        ("created_at > $1", Range),
        ("email LIKE 'a%'", Range),
        ("email LIKE $1", Other),
        ("name IS NULL", Null),
        ("active", Boolean),
        ("email LIKE '%a'", NonIndexable),
        ("email ILIKE 'a%'", NonIndexable),
        ("email <> $1", NonIndexable),
        ("org_id NOT IN (1)", NonIndexable),
    ];
    for (where_clause, class) in cases {
        let filters = users_filters(where_clause);
        assert_eq!(filters.len(), 1, "WHERE {where_clause}");
        assert_eq!(filters[0].class(), class, "WHERE {where_clause}");
    }
}

#[test]
fn or_groups_keep_branches() {
    let shape = shape_of("SELECT id FROM users WHERE org_id = $1 AND (email = $2 OR (name = $3 AND active) OR lower(email) = $4)");
    let users = only_access(&shape, "users");
    assert_eq!(
        users.filters,
        vec![pred(col("org_id"), PredicateOp::Equal, param(1))]
    );
    assert_eq!(
        users.or_groups,
        vec![OrGroup {
            branches: vec![
                OrBranch {
                    predicates: vec![pred(col("email"), PredicateOp::Equal, param(2))],
                },
                OrBranch {
                    predicates: vec![
                        pred(col("name"), PredicateOp::Equal, param(3)),
                        pred(col("active"), PredicateOp::IsTrue, Operand::None),
                    ],
                },
                OrBranch {
                    predicates: vec![pred(
                        expr_key("lower(email)", &["email"]),
                        PredicateOp::Equal,
                        param(4)
                    )],
                },
            ],
        }]
    );
}

#[test]
fn or_group_across_tables_leaves_empty_branches() {
    let shape = shape_of("SELECT 1 FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = $1 OR o.status = $2");
    let users = only_access(&shape, "users");
    let orders = only_access(&shape, "orders");
    assert!(users.filters.is_empty() && orders.filters.is_empty());
    assert_eq!(
        users.or_groups[0].branches,
        vec![
            OrBranch {
                predicates: vec![pred(col("email"), PredicateOp::Equal, param(1))]
            },
            OrBranch::default(),
        ]
    );
    assert_eq!(
        orders.or_groups[0].branches,
        vec![
            OrBranch::default(),
            OrBranch {
                predicates: vec![pred(col("status"), PredicateOp::Equal, param(2))]
            },
        ]
    );
}

#[test]
fn parameter_cast_to_another_type_is_noted() {
    let shape = shape_of("SELECT id FROM users WHERE id = $1::bigint AND email = $2::text AND created_at > $3::timestamptz");
    let users = only_access(&shape, "users");
    assert_eq!(
        users.notes,
        vec![AccessNote::ParameterCastMismatch {
            column: "id".into(),
            column_type: "integer".into(),
            cast_type: "BIGINT".into(),
        }]
    );
    assert_eq!(
        users.filters[0],
        pred(col("id"), PredicateOp::Equal, cast_param(1, "BIGINT"))
    );
}

#[test]
fn typed_literal_parameters_become_cast_operands() {
    let shape = shape_of(
        "SELECT * FROM traffic_events WHERE event_date >= date $1 AND event_date < date $2",
    );
    let traffic = only_access(&shape, "traffic_events");
    assert_eq!(
        traffic.filters,
        vec![
            pred(
                col("event_date"),
                PredicateOp::GreaterOrEqual,
                cast_param(1, "DATE")
            ),
            pred(col("event_date"), PredicateOp::Less, cast_param(2, "DATE")),
        ]
    );
    assert!(traffic.notes.is_empty(), "date matches date");
}

#[test]
fn not_in_subquery_is_non_indexable_and_the_subquery_is_its_own_access() {
    let shape = shape_of(
        "SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM orders WHERE status = $1)",
    );
    let users = only_access(&shape, "users");
    assert_eq!(
        users.filters,
        vec![pred(
            col("id"),
            PredicateOp::NotInSubquery,
            Operand::Subquery
        )]
    );
    assert_eq!(users.filters[0].class(), PredicateClass::NonIndexable);
    assert!(users.joins.is_empty(), "NOT IN is no semi-join");
    let orders = only_access(&shape, "orders");
    assert_eq!(orders.origin, AccessOrigin::Subquery);
    assert_eq!(
        orders.filters,
        vec![pred(col("status"), PredicateOp::Equal, param(1))]
    );
}
