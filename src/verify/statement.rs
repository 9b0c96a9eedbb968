//! Lexical preparation of statement texts before they reach the server: the
//! parameter count `EXECUTE` needs, a single statement only, and the bare
//! `CREATE INDEX ON ...` form hypopg accepts. Uses the crate's one SQL lexer,
//! so `$1` or `;` inside strings, quoted identifiers and comments never count.

use crate::analyze::queries::{tokenize, Token, TokenKind};

fn significant(tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .filter(|t| {
            !matches!(
                t.kind,
                TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
            )
        })
        .copied()
        .collect()
}

/// A statement ready to be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreparedText {
    /// The statement without trailing `;`.
    pub sql: String,
    /// Highest `$n` referenced: how many arguments `EXECUTE` must pass.
    pub parameter_count: usize,
}

/// Why a text cannot be prepared as one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextProblem {
    Empty,
    MultipleStatements,
    /// `$0` or a number beyond what PostgreSQL accepts (65535).
    BadParameter(String),
}

/// PostgreSQL's limit on bind parameters of one statement.
const MAX_PARAMETERS: usize = 65535;

/// Checks that `sql` holds exactly one statement (a trailing `;` is dropped)
/// and counts its parameters.
pub(crate) fn preparable(sql: &str) -> Result<PreparedText, TextProblem> {
    let tokens = tokenize(sql);
    let significant = significant(&tokens);
    let is_semicolon = |t: &Token| t.kind == TokenKind::Symbol && &sql[t.start..t.end] == ";";
    let body_len = significant
        .iter()
        .rposition(|t| !is_semicolon(t))
        .map(|i| i + 1)
        .ok_or(TextProblem::Empty)?;
    let body = &significant[..body_len];
    if body.iter().any(is_semicolon) {
        return Err(TextProblem::MultipleStatements);
    }
    let mut parameter_count = 0;
    for t in body.iter().filter(|t| t.kind == TokenKind::Parameter) {
        let text = &sql[t.start..t.end];
        let n = text[1..]
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PARAMETERS).contains(n))
            .ok_or_else(|| TextProblem::BadParameter(text.to_string()))?;
        parameter_count = parameter_count.max(n);
    }
    // Keep comments inside the statement but cut at the end of its last token,
    // so a trailing `-- comment` cannot swallow text appended after it.
    let end = body[body_len - 1].end;
    Ok(PreparedText {
        sql: sql[..end].to_string(),
        parameter_count,
    })
}

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON rest` rewritten to
/// `CREATE [UNIQUE] INDEX ON rest`, the form hypopg accepts (it names its
/// indexes itself and builds nothing, so the other words mean nothing to it).
pub(crate) fn bare_create_index(sql: &str) -> Result<String, String> {
    let text = preparable(sql).map_err(|problem| match problem {
        TextProblem::Empty => "empty CREATE INDEX statement".to_string(),
        TextProblem::MultipleStatements => {
            "expected one CREATE INDEX statement, found several".to_string()
        }
        TextProblem::BadParameter(p) => format!("unexpected parameter {p} in CREATE INDEX"),
    })?;
    let sql = text.sql.as_str();
    let tokens = tokenize(sql);
    let words = significant(&tokens);
    let word = |i: usize| -> Option<&str> {
        words
            .get(i)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| &sql[t.start..t.end])
    };
    let is = |i: usize, keyword: &str| word(i).is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    let not_create_index = || format!("not a CREATE INDEX statement: {sql}");
    if !is(0, "create") {
        return Err(not_create_index());
    }
    let mut i = 1;
    let unique = is(i, "unique");
    if unique {
        i += 1;
    }
    if !is(i, "index") {
        return Err(not_create_index());
    }
    i += 1;
    if is(i, "concurrently") {
        i += 1;
    }
    if is(i, "if") && is(i + 1, "not") && is(i + 2, "exists") {
        i += 3;
    }
    if !is(i, "on") {
        // An index name, plain or quoted; schema-qualified names are not allowed
        // by CREATE INDEX either.
        match words.get(i).map(|t| t.kind) {
            Some(TokenKind::Word | TokenKind::QuotedIdentifier) => i += 1,
            _ => return Err(format!("expected ON after CREATE INDEX in: {sql}")),
        }
    }
    let Some(on) = words.get(i).filter(|_| is(i, "on")) else {
        return Err(format!("expected ON after the index name in: {sql}"));
    };
    let head = if unique {
        "CREATE UNIQUE INDEX "
    } else {
        "CREATE INDEX "
    };
    Ok(format!("{head}{}", &sql[on.start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parameters_outside_strings_and_comments() {
        let text = preparable(
            "SELECT '$9', \"$8\", $$ $7 $$ /* $6 */ FROM t WHERE a = $2 AND b = $1 -- $5",
        )
        .expect("preparable");
        assert_eq!(text.parameter_count, 2);
        assert_eq!(
            preparable("SELECT 1").expect("preparable").parameter_count,
            0
        );
    }

    #[test]
    fn one_statement_only_and_trailing_semicolons_dropped() {
        let text = preparable("SELECT 1 ; ; -- done\n").expect("preparable");
        assert_eq!(text.sql, "SELECT 1");
        let text = preparable("SELECT ';' -- trailing\n").expect("preparable");
        assert_eq!(text.sql, "SELECT ';'");
        assert_eq!(
            preparable("SELECT 1; DROP TABLE t"),
            Err(TextProblem::MultipleStatements)
        );
        assert_eq!(preparable(" ; -- x"), Err(TextProblem::Empty));
        assert_eq!(
            preparable("SELECT $0"),
            Err(TextProblem::BadParameter("$0".into()))
        );
        assert!(matches!(
            preparable("SELECT $99999999999999999999999"),
            Err(TextProblem::BadParameter(_))
        ));
    }

    #[test]
    fn create_index_reduced_to_the_bare_form() {
        let cases = [
            (
                "CREATE INDEX ON t (a)",
                "CREATE INDEX ON t (a)",
            ),
            (
                "create index concurrently if not exists t_a_idx on t using btree (a, b DESC) WHERE c IS NULL;",
                "CREATE INDEX on t using btree (a, b DESC) WHERE c IS NULL",
            ),
            (
                "CREATE UNIQUE INDEX \"My Index\" ON s.t (lower(a)) INCLUDE (b)",
                "CREATE UNIQUE INDEX ON s.t (lower(a)) INCLUDE (b)",
            ),
            (
                "CREATE INDEX CONCURRENTLY ON t (a)",
                "CREATE INDEX ON t (a)",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(bare_create_index(input).as_deref(), Ok(expected), "{input}");
        }
        for bad in [
            "DROP INDEX x",
            "CREATE TABLE t (a int)",
            "CREATE INDEX ON t (a); DROP TABLE t",
            "CREATE INDEX x y ON t (a)",
            "",
        ] {
            assert!(bare_create_index(bad).is_err(), "{bad}");
        }
    }
}
