//! Lexical clean-up of pg_stat_statements text before it reaches the parser.
//!
//! pg_stat_statements replaces constants with `$n` but keeps the type word of a
//! typed literal, so `date '2024-01-01'` is stored as `date $1`. PostgreSQL itself
//! cannot prepare that text, and hypopg verification needs preparable SQL, so the
//! pair is rewritten to the equivalent cast `$1::date`. The rewrite walks a small
//! tokenizer (strings, quoted identifiers, comments and dollar quotes are skipped
//! whole) so a type word inside a literal or a comment is never touched.

/// Lexical class of a token; only what the rewrite and the pre-parse checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Whitespace,
    LineComment,
    BlockComment,
    /// `'...'`, `E'...'` (the prefix letter is its own word token), dollar-quoted text.
    StringLiteral,
    QuotedIdentifier,
    /// An unquoted identifier or keyword.
    Word,
    /// A positional parameter, `$1`.
    Parameter,
    Number,
    /// Any operator or punctuation character run.
    Symbol,
}

/// One token: its class and byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_word_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Characters PostgreSQL accepts in operator names; a run of them is one symbol token.
fn is_operator_char(c: char) -> bool {
    "+-*/<>=~!@#%^&|`?".contains(c)
}

/// Splits SQL text into tokens. Unterminated strings, identifiers and comments
/// run to the end of the text rather than failing: the parser reports those.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < sql.len() {
        let rest = &sql[pos..];
        let Some(c) = rest.chars().next() else { break };
        let (kind, len) = if c.is_whitespace() {
            let len = rest
                .char_indices()
                .find(|&(_, ch)| !ch.is_whitespace())
                .map_or(rest.len(), |(i, _)| i);
            (TokenKind::Whitespace, len)
        } else if rest.starts_with("--") {
            (
                TokenKind::LineComment,
                rest.find('\n').unwrap_or(rest.len()),
            )
        } else if rest.starts_with("/*") {
            (TokenKind::BlockComment, block_comment_len(rest))
        } else if c == '\'' {
            let backslash_escapes = pos > 0 && matches!(bytes[pos - 1], b'e' | b'E') && {
                // Only an `E` that is a whole word right before the quote starts an escape string.
                let before = &sql[..pos - 1];
                !before.chars().next_back().is_some_and(is_word_continue)
            };
            (
                TokenKind::StringLiteral,
                quoted_len(rest, '\'', backslash_escapes),
            )
        } else if c == '"' {
            (TokenKind::QuotedIdentifier, quoted_len(rest, '"', false))
        } else if c == '$' {
            let digits = rest[1..]
                .char_indices()
                .find(|&(_, ch)| !ch.is_ascii_digit())
                .map_or(rest.len() - 1, |(i, _)| i);
            if digits > 0 {
                (TokenKind::Parameter, 1 + digits)
            } else if let Some(len) = dollar_quote_len(rest) {
                (TokenKind::StringLiteral, len)
            } else {
                (TokenKind::Symbol, 1)
            }
        } else if is_word_start(c) {
            let len = rest
                .char_indices()
                .find(|&(_, ch)| !is_word_continue(ch))
                .map_or(rest.len(), |(i, _)| i);
            (TokenKind::Word, len)
        } else if c.is_ascii_digit()
            || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            let len = rest
                .char_indices()
                .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_'))
                .map_or(rest.len(), |(i, _)| i);
            (TokenKind::Number, len)
        } else if is_operator_char(c) {
            let len = rest
                .char_indices()
                .find(|&(i, ch)| {
                    !is_operator_char(ch)
                        || rest[i..].starts_with("--")
                        || rest[i..].starts_with("/*")
                })
                .map_or(rest.len(), |(i, _)| i);
            (TokenKind::Symbol, len.max(c.len_utf8()))
        } else if rest.starts_with("::") {
            (TokenKind::Symbol, 2)
        } else {
            (TokenKind::Symbol, c.len_utf8())
        };
        tokens.push(Token {
            kind,
            start: pos,
            end: pos + len,
        });
        pos += len;
    }
    tokens
}

/// Length of a block comment; PostgreSQL block comments nest.
fn block_comment_len(rest: &str) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        if bytes[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if bytes[i..].starts_with(b"*/") {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    rest.len()
}

/// Length of a quoted run starting at `rest[0] == quote`; a doubled quote is an
/// escaped quote, and in escape strings a backslash escapes the next character.
fn quoted_len(rest: &str, quote: char, backslash_escapes: bool) -> usize {
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, ch)) = chars.next() {
        if backslash_escapes && ch == '\\' {
            chars.next();
        } else if ch == quote {
            match chars.peek() {
                Some(&(_, next)) if next == quote => {
                    chars.next();
                }
                _ => return i + ch.len_utf8(),
            }
        }
    }
    rest.len()
}

/// Length of `$tag$ ... $tag$` if `rest` opens a dollar quote.
fn dollar_quote_len(rest: &str) -> Option<usize> {
    let after = &rest[1..];
    let tag_len = after.find('$')?;
    let tag = &after[..tag_len];
    let valid_tag = tag
        .chars()
        .next()
        .is_none_or(|c| is_word_start(c) && c != '$')
        && tag.chars().all(|c| is_word_continue(c) && c != '$');
    if !valid_tag {
        return None;
    }
    let delimiter = &rest[..tag_len + 2];
    let body_start = delimiter.len();
    Some(
        rest[body_start..]
            .find(delimiter)
            .map_or(rest.len(), |i| body_start + i + delimiter.len()),
    )
}

/// Type names that pg_stat_statements leaves in front of a parameter
/// (`date $1`). Multi-word names are matched word by word.
const TYPED_LITERAL_TYPES: &[&[&str]] = &[
    &["timestamp", "with", "time", "zone"],
    &["timestamp", "without", "time", "zone"],
    &["time", "with", "time", "zone"],
    &["time", "without", "time", "zone"],
    &["double", "precision"],
    &["character", "varying"],
    &["date"],
    &["time"],
    &["timetz"],
    &["timestamp"],
    &["timestamptz"],
    &["interval"],
    &["int2"],
    &["int4"],
    &["int8"],
    &["smallint"],
    &["integer"],
    &["bigint"],
    &["numeric"],
    &["decimal"],
    &["real"],
    &["float4"],
    &["float8"],
    &["bool"],
    &["boolean"],
    &["text"],
    &["varchar"],
    &["bpchar"],
    &["uuid"],
    &["json"],
    &["jsonb"],
    &["bytea"],
    &["inet"],
    &["cidr"],
    &["macaddr"],
    &["money"],
    &["tsquery"],
    &["tsvector"],
    &["xml"],
    &["point"],
];

/// Splits a file of SQL into statements at the `;` that end them (not those
/// inside strings, quoted identifiers, comments or dollar quotes). Empty
/// statements are dropped; text is trimmed.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut start = 0;
    for token in tokenize(sql) {
        if token.kind == TokenKind::Symbol && sql[token.start..token.end].contains(';') {
            // A symbol run may hold `;` among other characters; cut at each one.
            for (offset, _) in sql[token.start..token.end].match_indices(';') {
                let end = token.start + offset;
                statements.push(sql[start..end].trim().to_string());
                start = end + 1;
            }
        }
    }
    statements.push(sql[start..].trim().to_string());
    statements.retain(|s| !s.is_empty());
    statements
}

/// The tokens that carry meaning: everything but white space and comments.
fn significant_tokens(tokens: &[Token]) -> Vec<&Token> {
    tokens
        .iter()
        .filter(|t| {
            !matches!(
                t.kind,
                TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
            )
        })
        .collect()
}

/// Rewrites `type $n` (typed literals as pg_stat_statements prints them) into
/// `$n::type`; everything else is copied byte for byte.
///
/// A type word preceded by `.` or `::` is part of a qualified name or a cast
/// and is left alone.
pub fn normalize_statement(sql: &str) -> String {
    let tokens = tokenize(sql);
    let significant = significant_tokens(&tokens);
    let mut out = String::with_capacity(sql.len() + 8);
    let mut copied_to = 0;
    let mut i = 0;
    while i < significant.len() {
        let Some(len) = typed_literal_at(sql, &significant, i) else {
            i += 1;
            continue;
        };
        let first = significant[i];
        let last_type_word = significant[i + len - 1];
        let param = significant[i + len];
        out.push_str(&sql[copied_to..first.start]);
        out.push_str(&sql[param.start..param.end]);
        out.push_str("::");
        out.push_str(&sql[first.start..last_type_word.end]);
        copied_to = param.end;
        i += len + 1;
    }
    out.push_str(&sql[copied_to..]);
    out
}

/// If `tokens[i..]` starts with a typed literal, the number of type words.
fn typed_literal_at(sql: &str, tokens: &[&Token], i: usize) -> Option<usize> {
    if i > 0 {
        let previous = &sql[tokens[i - 1].start..tokens[i - 1].end];
        if previous == "." || previous == "::" {
            return None;
        }
    }
    TYPED_LITERAL_TYPES.iter().find_map(|words| {
        let matches = words.iter().enumerate().all(|(k, word)| {
            tokens.get(i + k).is_some_and(|t| {
                t.kind == TokenKind::Word && sql[t.start..t.end].eq_ignore_ascii_case(word)
            })
        });
        let followed_by_parameter = tokens
            .get(i + words.len())
            .is_some_and(|t| t.kind == TokenKind::Parameter);
        (matches && followed_by_parameter).then_some(words.len())
    })
}

/// Which weaker row-lock strengths a statement used before they were
/// rewritten away for the parser (sqlparser knows only UPDATE and SHARE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WeakLocks {
    /// Every `FOR ... UPDATE` was `FOR NO KEY UPDATE`.
    pub no_key_update: bool,
    /// Every `FOR ... SHARE` was `FOR KEY SHARE`.
    pub key_share: bool,
}

/// Rewrites `FOR NO KEY UPDATE` to `FOR UPDATE` and `FOR KEY SHARE` to
/// `FOR SHARE` so sqlparser accepts them; the strengths come back through
/// [`WeakLocks`]. Index needs are the same for all four strengths.
pub(crate) fn parser_compatible(sql: &str) -> (String, WeakLocks) {
    let tokens = tokenize(sql);
    let words = significant_tokens(&tokens);
    let is = |i: usize, word: &str| {
        words.get(i).is_some_and(|t| {
            t.kind == TokenKind::Word && sql[t.start..t.end].eq_ignore_ascii_case(word)
        })
    };
    let mut removals: Vec<(usize, usize)> = Vec::new();
    let (mut weak_update, mut plain_update, mut weak_share, mut plain_share) =
        (false, false, false, false);
    for i in 0..words.len() {
        if !is(i, "for") {
            continue;
        }
        if is(i + 1, "no") && is(i + 2, "key") && is(i + 3, "update") {
            weak_update = true;
            removals.push((words[i + 1].start, words[i + 3].start));
        } else if is(i + 1, "key") && is(i + 2, "share") {
            weak_share = true;
            removals.push((words[i + 1].start, words[i + 2].start));
        } else if is(i + 1, "update") {
            plain_update = true;
        } else if is(i + 1, "share") {
            plain_share = true;
        }
    }
    let mut out = String::with_capacity(sql.len());
    let mut copied_to = 0;
    for (start, end) in removals {
        out.push_str(&sql[copied_to..start]);
        copied_to = end;
    }
    out.push_str(&sql[copied_to..]);
    let locks = WeakLocks {
        no_key_update: weak_update && !plain_update,
        key_share: weak_share && !plain_share,
    };
    (out, locks)
}

/// True when the text carries pgadvise's own marker comment `/* pgadvise */`,
/// so the advisor never advises on the queries it issues itself.
pub fn has_pgadvise_tag(sql: &str) -> bool {
    tokenize(sql).iter().any(|t| {
        t.kind == TokenKind::BlockComment && {
            let body = sql[t.start..t.end]
                .trim_start_matches("/*")
                .trim_end_matches("*/")
                .trim();
            body.get(..8)
                .is_some_and(|head| head.eq_ignore_ascii_case("pgadvise"))
                && body[8..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == ':')
        }
    })
}

/// Facts about the raw text gathered in one tokenizer pass before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextSummary {
    /// First keyword, upper-cased: names the statement in skip reasons.
    pub leading_keyword: Option<String>,
    /// Tokens that can each add a level to a left-deep expression chain:
    /// operator symbols, `::`, `[`, and the word operators
    /// ([`OPERATOR_KEYWORDS`]). An upper bound on how deep the parser's tree
    /// can get, which it builds in a loop without a depth limit.
    pub operator_count: usize,
    /// Every token but white space and comments: bounds how many nodes the
    /// parser can build, and so its memory.
    pub token_count: usize,
}

/// Words that join two expressions or extend one to the left the way an
/// operator symbol does (`x IS NULL IS NULL`, `b AT TIME ZONE 'UTC' AT ...`).
/// Counting a word that is not used as an operator only makes the bound looser.
const OPERATOR_KEYWORDS: &[&str] = &[
    "and", "or", "xor", "not", "is", "at", "collate", "like", "ilike", "similar", "between", "in",
    "overlaps", "escape", "operator", "member", "regexp", "rlike", "div", "mod",
];

pub(crate) fn summarize(sql: &str) -> TextSummary {
    let mut leading_keyword = None;
    let mut operator_count = 0;
    let mut token_count = 0;
    for t in tokenize(sql) {
        let text = &sql[t.start..t.end];
        match t.kind {
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment => continue,
            TokenKind::Word => {
                if leading_keyword.is_none() {
                    leading_keyword = Some(text.to_ascii_uppercase());
                }
                if OPERATOR_KEYWORDS
                    .iter()
                    .any(|k| text.eq_ignore_ascii_case(k))
                {
                    operator_count += 1;
                }
            }
            // Field access (`.f`) is kept in a flat list, and brackets and
            // commas only delimit; `[` starts a subscript, which is counted.
            TokenKind::Symbol if !matches!(text, "(" | ")" | "," | ";" | "." | "]") => {
                operator_count += 1;
            }
            _ => {}
        }
        token_count += 1;
    }
    TextSummary {
        leading_keyword,
        operator_count,
        token_count,
    }
}

#[cfg(test)]
mod split_tests {
    use super::split_statements;

    #[test]
    fn splits_only_at_real_semicolons() {
        let sql =
            "SELECT 'a;b' FROM t; -- c;\nSELECT $$x;y$$;\n\n SELECT \"we;ird\" FROM u /* ; */;;";
        assert_eq!(
            split_statements(sql),
            [
                "SELECT 'a;b' FROM t",
                "-- c;\nSELECT $$x;y$$",
                "SELECT \"we;ird\" FROM u /* ; */",
            ]
        );
        assert!(split_statements("  ;  ").is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_literals_become_casts() {
        let cases: &[(&str, &str)] = &[
            (
                "SELECT * FROM t WHERE d = date $1",
                "SELECT * FROM t WHERE d = $1::date",
            ),
            (
                "SELECT * FROM events WHERE created_at > now() - interval $1",
                "SELECT * FROM events WHERE created_at > now() - $1::interval",
            ),
            (
                "WHERE a >= timestamptz $3 AND b < TIMESTAMP $4",
                "WHERE a >= $3::timestamptz AND b < $4::TIMESTAMP",
            ),
            (
                "WHERE a = timestamp with time zone $4",
                "WHERE a = $4::timestamp with time zone",
            ),
            (
                "WHERE a = timestamp  WITHOUT time zone $1",
                "WHERE a = $1::timestamp  WITHOUT time zone",
            ),
            // Left alone: inside strings, comments, dollar quotes, quoted identifiers.
            (
                "SELECT 'date $1', \"date\" $1",
                "SELECT 'date $1', \"date\" $1",
            ),
            (
                "SELECT 1 /* date $1 */ -- interval $2\n",
                "SELECT 1 /* date $1 */ -- interval $2\n",
            ),
            (
                "SELECT $f$ date $1 $f$, $$interval $2$$",
                "SELECT $f$ date $1 $f$, $$interval $2$$",
            ),
            ("SELECT E'it\\'s date $1' ", "SELECT E'it\\'s date $1' "),
            // A qualified name or a cast target is not a typed literal.
            ("SELECT t.date $1", "SELECT t.date $1"),
            ("SELECT x::date, $1", "SELECT x::date, $1"),
            // Comments between the type and the parameter are dropped with the rewrite.
            ("SELECT date /* c */ $1", "SELECT $1::date"),
            ("LIMIT $1 OFFSET $2", "LIMIT $1 OFFSET $2"),
            (
                "SELECT 'Größe' || interval $1",
                "SELECT 'Größe' || $1::interval",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_statement(input), *expected, "input: {input}");
        }
    }

    #[test]
    fn tokenizer_survives_unterminated_input() {
        for sql in [
            "'abc", "\"abc", "/* abc", "$q$ abc", "E'\\", "$", "-", "/*/*/", "€$1",
        ] {
            let tokens = tokenize(sql);
            assert_eq!(tokens.last().map(|t| t.end), Some(sql.len()), "{sql}");
            let _ = normalize_statement(sql);
        }
    }

    #[test]
    fn weak_lock_strengths_are_rewritten_for_the_parser() {
        let (text, locks) = parser_compatible("SELECT 1 FROM t FOR NO KEY UPDATE SKIP LOCKED");
        assert_eq!(text, "SELECT 1 FROM t FOR UPDATE SKIP LOCKED");
        assert_eq!(
            locks,
            WeakLocks {
                no_key_update: true,
                key_share: false
            }
        );
        let (text, locks) = parser_compatible("SELECT 'for key share' FROM t for key share of t");
        assert_eq!(text, "SELECT 'for key share' FROM t for share of t");
        assert!(locks.key_share && !locks.no_key_update);
        let (_, locks) =
            parser_compatible("SELECT 1 FROM a FOR NO KEY UPDATE OF a FOR UPDATE OF b");
        assert!(
            !locks.no_key_update,
            "mixed strengths report the stronger one"
        );
    }

    #[test]
    fn pgadvise_tag_is_a_comment_not_a_string() {
        assert!(has_pgadvise_tag("/* pgadvise */ SELECT 1"));
        assert!(has_pgadvise_tag("SELECT 1 /*pgadvise: verify*/"));
        assert!(!has_pgadvise_tag("SELECT '/* pgadvise */'"));
        assert!(!has_pgadvise_tag("SELECT 1 /* pgadvisers */"));
    }

    #[test]
    fn summary_counts_operators_and_names_the_statement() {
        let summary = summarize("-- c\n  vacuum analyze t");
        assert_eq!(summary.leading_keyword.as_deref(), Some("VACUUM"));
        assert_eq!(summary.token_count, 3);
        let summary = summarize("/* app */ SELECT 1");
        assert_eq!(summary.leading_keyword.as_deref(), Some("SELECT"));
    }

    /// Every kind of link in a left-deep chain counts, one per link at least:
    /// the parser builds each of these chains in a loop, without a depth limit.
    #[test]
    fn summary_counts_every_link_of_a_chain() {
        let cases: &[(&str, usize)] = &[
            ("a = 1 AND b <= 2 OR c > 3", 5),
            ("a::int::int::text", 3),
            ("x IS NULL IS NULL IS NULL", 3),
            ("a IS NOT TRUE IS NOT TRUE", 4),
            ("a[1][2][3]", 3),
            ("a[1:2]", 2),
            ("b AT TIME ZONE 'UTC' AT TIME ZONE 'UTC'", 2),
            ("a COLLATE \"C\" COLLATE \"C\"", 2),
            ("a LIKE b ESCAPE c NOT ILIKE d SIMILAR TO e", 5),
            ("a BETWEEN 1 AND 2 IN (1, 2)", 3),
            ("a OPERATOR(pg_catalog.+) b", 2),
            ("j -> 'a' ->> 'b' #> c", 3),
            ("NOT NOT a", 2),
            // Not links: qualified names and field access are flat lists;
            // brackets, commas and `;` only delimit; strings and comments hide text.
            ("t.a, s.t.b, (r).f.g", 0),
            ("f(a, (b)); ", 0),
            ("'a = b AND c' /* IS NULL */ -- ::int", 0),
            ("\"is\" \"and\"", 0),
        ];
        for (sql, expected) in cases {
            assert_eq!(summarize(sql).operator_count, *expected, "{sql}");
        }
        assert_eq!(summarize("a::int::int").token_count, 5);
        assert_eq!(summarize("(a).f.f -- x").token_count, 7);
    }
}
