//! PostgreSQL identifiers: quoting exactly where the server needs it.
//!
//! Mirrors the server's `quote_identifier`: a name stays bare only when it is
//! all lower-case ASCII letters, digits, `_` and `$`, starts with a letter or
//! `_`, and is not a keyword other than an unreserved one. Everything else
//! (upper case, spaces, quotes, Unicode, reserved words) is double-quoted with
//! embedded quotes doubled.

/// Keywords that must be quoted as identifiers (reserved, column-name and
/// type/function-name categories of `pg_get_keywords()`, PostgreSQL 13-18).
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes `name` only if PostgreSQL requires it.
pub fn quote(name: &str) -> String {
    if is_bare(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Whether `name` can be written without quotes and still mean itself.
pub fn is_bare(name: &str) -> bool {
    is_simple(name) && QUOTED_KEYWORDS.binary_search(&name).is_err()
}

/// Quotes a function name only if its spelling needs it. Keywords stay bare:
/// `coalesce`, `greatest`, `nullif` are call syntax, and quoting them would name
/// a function that does not exist.
pub fn quote_function(name: &str) -> String {
    if is_simple(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn is_simple(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

/// `schema.name`, each part quoted where needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_where_needed() {
        let cases = [
            ("users", "users"),
            ("created_at", "created_at"),
            ("_x1$", "_x1$"),
            ("Users", "\"Users\""),
            ("user id", "\"user id\""),
            ("select", "\"select\""),
            ("user", "\"user\""),
            ("order", "\"order\""),
            // Unreserved keywords stay bare, as the server writes them.
            ("name", "name"),
            ("comment", "comment"),
            ("1abc", "\"1abc\""),
            ("a\"b", "\"a\"\"b\""),
            ("größe", "\"größe\""),
            ("", "\"\""),
        ];
        for (input, expected) in cases {
            assert_eq!(quote(input), expected, "quoting {input:?}");
        }
    }

    #[test]
    fn keyword_list_is_sorted_for_binary_search() {
        let mut sorted = QUOTED_KEYWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, QUOTED_KEYWORDS);
    }

    #[test]
    fn function_names_keep_keywords_bare() {
        assert_eq!(quote_function("coalesce"), "coalesce");
        assert_eq!(quote_function("lower"), "lower");
        assert_eq!(quote_function("MyFunc"), "\"MyFunc\"");
    }

    #[test]
    fn qualified_names() {
        assert_eq!(qualified("public", "Order"), "public.\"Order\"");
    }
}
