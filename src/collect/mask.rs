//! Masks literals in raw SQL text before it is kept anywhere.
//!
//! pg_stat_activity shows statements as clients sent them, constants included,
//! and constants can be secrets (`ALTER ROLE ... PASSWORD '...'`, tokens, emails).
//! Strings, dollar-quoted bodies and numbers become `?`; identifiers, `$n`
//! parameters, keywords and comments stay, so the shape remains readable. Text
//! cut short by `track_activity_query_size` is handled: an unterminated literal
//! is masked to the end.

/// Keywords that start a statement pg_stat_statements normalizes (its constants
/// are already `$n`). Anything else is a utility statement, whose text older
/// servers keep verbatim: `CREATE ROLE app PASSWORD 'secret'` would be stored as is.
const OPTIMIZABLE: &[&str] = &[
    "select", "insert", "update", "delete", "with", "values", "table", "merge",
];

/// The text to keep for a pg_stat_statements entry: as recorded for normalized
/// statements (masking would break `ORDER BY 1`), literals masked for utility
/// statements.
pub fn mask_utility_statement(sql: &str) -> String {
    let first = first_keyword(sql);
    if OPTIMIZABLE.iter().any(|k| first.eq_ignore_ascii_case(k)) {
        sql.to_string()
    } else {
        mask_literals(sql)
    }
}

/// The first word of a statement, past white space, comments and `(`.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = trimmed.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            let end = trimmed
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .unwrap_or(trimmed.len());
            return &trimmed[..end];
        }
    }
}

/// Replaces every literal in `sql` with `?`.
pub fn mask_literals(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' => {
                // A prefix letter (E, B, X, N, U&) directly before belongs to the literal.
                let escapes = drop_literal_prefix(&mut out);
                i = skip_quoted(&chars, i, '\'', escapes);
                out.push('?');
            }
            '"' => {
                let end = skip_quoted(&chars, i, '"', false);
                out.extend(&chars[i..end]);
                i = end;
            }
            '-' if next == Some('-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&ch| ch == '\n')
                    .map_or(chars.len(), |p| i + p);
                out.extend(&chars[i..end]);
                i = end;
            }
            '/' if next == Some('*') => {
                let end = skip_block_comment(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '$' if next.is_some_and(|n| n.is_ascii_digit()) => {
                // A parameter ($1): keep it whole.
                let end = scan_while(&chars, i + 1, |ch| ch.is_ascii_digit());
                out.extend(&chars[i..end]);
                i = end;
            }
            '$' if !prev_is_identifier(&chars, i) => match dollar_tag_end(&chars, i) {
                Some(tag_end) => {
                    let tag: String = chars[i..tag_end].iter().collect();
                    i = find_after(&chars, tag_end, &tag).unwrap_or(chars.len());
                    out.push('?');
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            _ if c.is_ascii_digit() && !prev_is_identifier(&chars, i) => {
                i = scan_number(&chars, i);
                out.push('?');
            }
            '.' if next.is_some_and(|n| n.is_ascii_digit()) && !prev_is_identifier(&chars, i) => {
                i = scan_number(&chars, i);
                out.push('?');
            }
            _ if is_identifier_char(c) => {
                let end = scan_while(&chars, i, is_identifier_char);
                out.extend(&chars[i..end]);
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

fn prev_is_identifier(chars: &[char], i: usize) -> bool {
    i > 0 && is_identifier_char(chars[i - 1])
}

fn scan_while(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    chars[from..]
        .iter()
        .position(|&c| !keep(c))
        .map_or(chars.len(), |p| from + p)
}

/// Removes a string-literal prefix just written to `out`; returns whether the
/// literal takes backslash escapes (E'...').
fn drop_literal_prefix(out: &mut String) -> bool {
    let tail: Vec<char> = out.chars().rev().take(3).collect();
    let standalone = |idx: usize| tail.get(idx).is_none_or(|c| !is_identifier_char(*c));
    match tail.as_slice() {
        ['&', u, ..] if matches!(u, 'u' | 'U') && standalone(2) => {
            out.pop();
            out.pop();
            false
        }
        [p, ..] if matches!(p, 'e' | 'E') && standalone(1) => {
            out.pop();
            true
        }
        [p, ..] if matches!(p, 'b' | 'B' | 'x' | 'X' | 'n' | 'N') && standalone(1) => {
            out.pop();
            false
        }
        _ => false,
    }
}

/// Index just past a quoted run starting at `start` (doubled quotes stay inside).
fn skip_quoted(chars: &[char], start: usize, quote: char, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if backslash_escapes && c == '\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn skip_block_comment(chars: &[char], start: usize) -> usize {
    // Block comments nest in PostgreSQL.
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth = depth.saturating_sub(1);
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// If a dollar-quote tag (`$$` or `$tag$`) starts at `start`, the index after it.
fn dollar_tag_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            return Some(i + 1);
        }
        let valid = if i == start + 1 {
            c.is_alphabetic() || c == '_' || !c.is_ascii()
        } else {
            c.is_alphanumeric() || c == '_' || !c.is_ascii()
        };
        if !valid {
            return None;
        }
        i += 1;
    }
    None
}

fn find_after(chars: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (from..chars.len())
        .find(|&i| chars[i..].starts_with(&needle))
        .map(|i| i + needle.len())
}

fn scan_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    let mut seen_exponent = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '.' || c == '_' {
            i += 1;
        } else if matches!(c, 'e' | 'E') && !seen_exponent {
            seen_exponent = true;
            i += 1;
            if matches!(chars.get(i), Some('+') | Some('-')) {
                i += 1;
            }
        } else if matches!(c, 'x' | 'X' | 'o' | 'O' | 'b' | 'B') && i == start + 1 {
            // 0x1F, 0o17, 0b101 (PostgreSQL 16+).
            i += 1;
        } else if c.is_ascii_hexdigit()
            && chars[start + 1..i]
                .first()
                .is_some_and(|p| matches!(p, 'x' | 'X'))
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::{mask_literals, mask_utility_statement};

    #[test]
    fn utility_statements_are_masked_queries_are_not() {
        let cases = [
            (
                "CREATE ROLE app LOGIN PASSWORD 'pw'",
                "CREATE ROLE app LOGIN PASSWORD ?",
            ),
            ("ALTER ROLE app PASSWORD 'pw'", "ALTER ROLE app PASSWORD ?"),
            (
                "EXPLAIN SELECT * FROM t WHERE a = 'x'",
                "EXPLAIN SELECT * FROM t WHERE a = ?",
            ),
            (
                "SELECT a FROM t ORDER BY 1 LIMIT $1",
                "SELECT a FROM t ORDER BY 1 LIMIT $1",
            ),
            (
                "  (SELECT 1) UNION (SELECT 2)",
                "  (SELECT 1) UNION (SELECT 2)",
            ),
            (
                "/* app */ WITH x AS (SELECT $1) SELECT * FROM x",
                "/* app */ WITH x AS (SELECT $1) SELECT * FROM x",
            ),
            ("-- c\nupdate t SET a = $1", "-- c\nupdate t SET a = $1"),
            ("SET app.key = 'k'", "SET app.key = ?"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_utility_statement(input), expected, "{input}");
        }
    }

    #[test]
    fn masks_every_kind_of_literal() {
        let cases = [
            ("SELECT 1", "SELECT ?"),
            (
                "ALTER ROLE app PASSWORD 'hunter2'",
                "ALTER ROLE app PASSWORD ?",
            ),
            ("SELECT 'it''s'", "SELECT ?"),
            (r"SELECT E'a\'b' || x", "SELECT ? || x"),
            ("SELECT U&'d\\0061t'", "SELECT ?"),
            ("SELECT B'101', X'1F', N'n'", "SELECT ?, ?, ?"),
            ("SELECT $$secret$$, $t$x$t$", "SELECT ?, ?"),
            (
                "SELECT * FROM t WHERE a = $1 AND b > 2.5e-3",
                "SELECT * FROM t WHERE a = $1 AND b > ?",
            ),
            ("SELECT col1, t2.x FROM t2", "SELECT col1, t2.x FROM t2"),
            (
                r#"SELECT "weird 'name'" FROM "T1""#,
                r#"SELECT "weird 'name'" FROM "T1""#,
            ),
            ("SELECT .5, 0x1F", "SELECT ?, ?"),
            (
                "/* pgadvise */ SELECT 7 -- note 'x'",
                "/* pgadvise */ SELECT ? -- note 'x'",
            ),
            ("SELECT 'unterminated secr", "SELECT ?"),
            (
                "SELECT price FROM e WHERE name = 'größe'",
                "SELECT price FROM e WHERE name = ?",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_literals(input), expected, "masking {input:?}");
        }
    }

    #[test]
    fn never_keeps_a_secret() {
        let secret = "s3cr3t-Token";
        for sql in [
            format!("SET app.token = '{secret}'"),
            format!("SELECT $q${secret}$q$"),
            format!("SELECT E'\\\\{secret}'"),
            format!("SELECT '{secret}"),
        ] {
            assert!(!mask_literals(&sql).contains(secret), "{sql}");
        }
    }
}
