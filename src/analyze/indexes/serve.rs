//! Whether one index (existing or proposed) already serves what a candidate
//! asks for: the candidate's equality columns lead it in any order, its sort
//! or range keys follow in order (all in the same direction or all reversed),
//! and its partial predicate, if any, is implied by the candidate's.

use super::candidate::{AccessIndex, CandidateKey, KeyRole, KeyTarget, PartialPredicate};
use super::method::AccessMethod;
use super::render;
use crate::snapshot::Index;

/// Whether an existing index already serves what `candidate` asks for: a
/// btree by [`serves`]; for a BRIN candidate also a valid BRIN holding its
/// column (each column of a BRIN is summarised on its own, so any position).
pub fn existing_serves(existing: &Index, candidate: &AccessIndex) -> bool {
    if candidate.method == AccessMethod::Brin
        && existing.method == AccessMethod::Brin.as_str()
        && existing.is_valid
        && existing.is_ready
        && existing.predicate.is_none()
    {
        let held = candidate.keys.iter().all(|k| match &k.key {
            KeyTarget::Column(c) => existing
                .keys
                .iter()
                .any(|e| e.column.as_deref() == Some(c.as_str())),
            KeyTarget::Expression(_) => false,
        });
        if held {
            return true;
        }
    }
    IndexForm::of_existing(existing).is_some_and(|form| {
        serves(
            &form,
            &candidate.keys,
            &candidate.roles,
            &candidate.predicates,
        )
    })
}

/// The shape of an index for comparison: keys with direction, predicate text.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexForm {
    pub keys: Vec<CandidateKey>,
    /// Normalized predicate text (see [`normalize_sql`]); `None` for a full index.
    pub predicate: Option<String>,
}

impl IndexForm {
    /// An existing index, if it is one a btree lookup can use: valid, ready, btree.
    pub fn of_existing(index: &Index) -> Option<IndexForm> {
        if !index.is_valid || !index.is_ready || index.method != "btree" {
            return None;
        }
        let keys = index
            .keys
            .iter()
            .map(|k| {
                let key = match (&k.column, &k.expression) {
                    (Some(c), _) => KeyTarget::Column(c.clone()),
                    (None, Some(e)) => KeyTarget::Expression(normalize_sql(e)),
                    (None, None) => KeyTarget::Expression(String::new()),
                };
                CandidateKey {
                    key,
                    descending: k.descending,
                    nulls_reversed: k.nulls_first != k.descending,
                    opclass: k.opclass.clone(),
                }
            })
            .collect();
        Some(IndexForm {
            keys,
            predicate: index.predicate.as_deref().map(normalize_sql),
        })
    }

    pub fn of_candidate(keys: &[CandidateKey], predicates: &[PartialPredicate]) -> IndexForm {
        IndexForm {
            keys: keys
                .iter()
                .map(|k| CandidateKey {
                    key: match &k.key {
                        KeyTarget::Expression(e) => KeyTarget::Expression(normalize_sql(e)),
                        other => other.clone(),
                    },
                    ..k.clone()
                })
                .collect(),
            predicate: render::predicate_sql(predicates).map(|p| normalize_sql(&p)),
        }
    }
}

/// Expression text compared loosely: case, white space, parentheses and
/// casts' spelling differ between pg_get_indexdef and a parser's printer.
pub fn normalize_sql(sql: &str) -> String {
    sql.chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')' && *c != '"')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `index` serves a candidate with these keys, roles and predicates.
pub fn serves(
    index: &IndexForm,
    keys: &[CandidateKey],
    roles: &[KeyRole],
    predicates: &[PartialPredicate],
) -> bool {
    let wanted = IndexForm::of_candidate(keys, predicates);
    if let Some(existing) = &index.predicate {
        // A partial index serves only queries that imply its predicate: here,
        // when the candidate carries exactly that predicate among its own.
        let implied = predicates.iter().any(|p| {
            render::predicate_sql(std::slice::from_ref(p)).map(|t| normalize_sql(&t))
                == Some(existing.clone())
        }) || wanted.predicate.as_ref() == Some(existing);
        if !implied {
            return false;
        }
    }
    if index.keys.len() < wanted.keys.len() {
        return false;
    }
    let equality = roles.iter().filter(|r| **r == KeyRole::Equality).count();
    let (eq_wanted, rest_wanted) = wanted.keys.split_at(equality.min(wanted.keys.len()));
    let (eq_have, rest_have) = index.keys.split_at(eq_wanted.len());
    let same_set = eq_wanted
        .iter()
        .all(|w| eq_have.iter().any(|h| h.key == w.key));
    if !same_set {
        return false;
    }
    let rest_have = &rest_have[..rest_wanted.len()];
    // Past the equalities the order matters, and an operator class decides
    // the order (`text_pattern_ops` sorts bytewise): the classes must agree.
    let same_order = |w: &CandidateKey, h: &CandidateKey| w.key == h.key && w.opclass == h.opclass;
    let all_same = rest_wanted.iter().zip(rest_have).all(|(w, h)| {
        same_order(w, h) && w.descending == h.descending && w.nulls_reversed == h.nulls_reversed
    });
    let all_reversed = rest_wanted.iter().zip(rest_have).all(|(w, h)| {
        same_order(w, h) && w.descending != h.descending && w.nulls_reversed == h.nulls_reversed
    });
    // A range key reads either way; sort keys need one consistent direction.
    let ranges_match = rest_wanted
        .iter()
        .zip(rest_have)
        .zip(roles.iter().skip(equality))
        .all(|((w, h), role)| {
            same_order(w, h) && (*role == KeyRole::Range || all_same || all_reversed)
        });
    ranges_match
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, descending: bool) -> CandidateKey {
        CandidateKey {
            key: KeyTarget::Column(name.into()),
            descending,
            nulls_reversed: false,
            opclass: None,
        }
    }

    fn form(keys: &[(&str, bool)], predicate: Option<&str>) -> IndexForm {
        IndexForm {
            keys: keys.iter().map(|(n, d)| key(n, *d)).collect(),
            predicate: predicate.map(normalize_sql),
        }
    }

    /// (index, candidate keys, roles, candidate predicates, expected).
    type Case<'a> = (
        IndexForm,
        Vec<CandidateKey>,
        Vec<KeyRole>,
        &'a [PartialPredicate],
        bool,
    );

    #[test]
    fn prefix_order_direction_and_predicate() {
        use KeyRole::*;
        let deleted = [PartialPredicate::IsNull("deleted_at".into())];
        // (existing index, candidate keys, roles, candidate predicates, serves?)
        let cases: Vec<Case> = vec![
            // The primary key serves a lookup by id.
            (
                form(&[("id", false)], None),
                vec![key("id", false)],
                vec![Equality],
                &[],
                true,
            ),
            // A composite index serves its prefix.
            (
                form(&[("a", false), ("b", false)], None),
                vec![key("a", false)],
                vec![Equality],
                &[],
                true,
            ),
            // ...but not its second column alone.
            (
                form(&[("a", false), ("b", false)], None),
                vec![key("b", false)],
                vec![Equality],
                &[],
                false,
            ),
            // Equality columns match in any order.
            (
                form(&[("b", false), ("a", false)], None),
                vec![key("a", false), key("b", false)],
                vec![Equality, Equality],
                &[],
                true,
            ),
            // A sort read backwards is fine, in one direction for all keys.
            (
                form(&[("a", false), ("t", false)], None),
                vec![key("a", false), key("t", true)],
                vec![Equality, Sort],
                &[],
                true,
            ),
            (
                form(&[("a", false), ("t", false), ("u", false)], None),
                vec![key("a", false), key("t", true), key("u", false)],
                vec![Equality, Sort, Sort],
                &[],
                false,
            ),
            // The sort column must follow the equalities.
            (
                form(&[("a", false)], None),
                vec![key("a", false), key("t", true)],
                vec![Equality, Sort],
                &[],
                false,
            ),
            // A partial index serves only queries that imply its predicate.
            (
                form(&[("a", false)], Some("deleted_at IS NULL")),
                vec![key("a", false)],
                vec![Equality],
                &deleted,
                true,
            ),
            (
                form(&[("a", false)], Some("deleted_at IS NULL")),
                vec![key("a", false)],
                vec![Equality],
                &[],
                false,
            ),
            // A full index serves a candidate that wanted a partial one.
            (
                form(&[("a", false)], None),
                vec![key("a", false)],
                vec![Equality],
                &deleted,
                true,
            ),
        ];
        for (i, (index, keys, roles, preds, expected)) in cases.into_iter().enumerate() {
            assert_eq!(serves(&index, &keys, &roles, preds), expected, "case {i}");
        }
    }

    #[test]
    fn expression_text_compares_loosely() {
        assert_eq!(
            normalize_sql("lower((email)::text)"),
            normalize_sql("LOWER(email::TEXT)")
        );
        assert_eq!(
            normalize_sql("(deleted_at IS NULL)"),
            normalize_sql("deleted_at IS NULL")
        );
    }
}
