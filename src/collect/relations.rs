//! Tables, columns with pg_stats, indexes, foreign keys and views of the user
//! schemas (everything but the system schemas and objects owned by extensions).

use super::{iso, CollectError, SQL_TAG};
use crate::snapshot::{
    Column, ColumnStats, ForeignKey, Index, IndexConstraint, IndexKey, IndexStats, OperatorClass,
    QualifiedName, Table, TableKind, TableStats, View,
};
use std::collections::HashMap;
use tokio_postgres::{Client, Row};

/// Restricts `c` (pg_class) in namespace `n` to user objects.
const USER_RELATION: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' \
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                     AND d.objid = c.oid AND d.deptype = 'e')";

fn opt_ts(row: &Row, name: &str) -> Option<String> {
    row.get::<_, Option<String>>(name)
}

pub(crate) async fn tables(client: &Client, version_num: i32) -> Result<Vec<Table>, CollectError> {
    let last_seq_scan = if version_num >= 160000 {
        iso("s.last_seq_scan")
    } else {
        "NULL::text".to_string()
    };
    let sql = format!(
        "SELECT {SQL_TAG} c.oid, n.nspname::text AS schema, c.relname::text AS name, \
           c.relkind::text AS kind, pn.nspname::text AS parent_schema, p.relname::text AS parent_name, \
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key, \
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid, true) END AS partition_bound, \
           c.reltuples::float8 AS reltuples, c.relpages::int8 AS relpages, \
           c.relallvisible::int8 AS relallvisible, \
           COALESCE(pg_relation_size(c.oid), 0) AS size_bytes, \
           COALESCE(pg_total_relation_size(c.oid), 0) AS total_size_bytes, \
           COALESCE(c.reloptions, '{{}}')::text[] AS options, \
           s.relid IS NOT NULL AS has_stats, \
           COALESCE(s.seq_scan, 0) AS seq_scan, COALESCE(s.seq_tup_read, 0) AS seq_tup_read, \
           s.idx_scan, s.idx_tup_fetch, \
           COALESCE(s.n_tup_ins, 0) AS n_tup_ins, COALESCE(s.n_tup_upd, 0) AS n_tup_upd, \
           COALESCE(s.n_tup_del, 0) AS n_tup_del, COALESCE(s.n_tup_hot_upd, 0) AS n_tup_hot_upd, \
           COALESCE(s.n_live_tup, 0) AS n_live_tup, COALESCE(s.n_dead_tup, 0) AS n_dead_tup, \
           COALESCE(s.n_mod_since_analyze, 0) AS n_mod_since_analyze, \
           s.n_ins_since_vacuum, \
           {} AS last_vacuum, {} AS last_autovacuum, {} AS last_analyze, {} AS last_autoanalyze, \
           COALESCE(s.vacuum_count, 0) AS vacuum_count, COALESCE(s.autovacuum_count, 0) AS autovacuum_count, \
           COALESCE(s.analyze_count, 0) AS analyze_count, COALESCE(s.autoanalyze_count, 0) AS autoanalyze_count, \
           {last_seq_scan} AS last_seq_scan \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid AND c.relispartition \
         LEFT JOIN pg_class p ON p.oid = inh.inhparent \
         LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace \
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
         WHERE c.relkind IN ('r', 'p', 'm', 'f') AND {USER_RELATION} \
         ORDER BY n.nspname, c.relname",
        iso("s.last_vacuum"),
        iso("s.last_autovacuum"),
        iso("s.last_analyze"),
        iso("s.last_autoanalyze"),
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading tables", e))?;
    let mut columns = columns(client).await?;
    let mut tables = Vec::with_capacity(rows.len());
    for r in rows {
        let oid: u32 = r.get("oid");
        let kind = match r.get::<_, String>("kind").as_str() {
            "p" => TableKind::PartitionedTable,
            "m" => TableKind::MaterializedView,
            "f" => TableKind::ForeignTable,
            _ => TableKind::Table,
        };
        let parent = match (
            r.get::<_, Option<String>>("parent_schema"),
            r.get::<_, Option<String>>("parent_name"),
        ) {
            (Some(schema), Some(name)) => Some(QualifiedName { schema, name }),
            _ => None,
        };
        let stats = r.get::<_, bool>("has_stats").then(|| TableStats {
            seq_scan: r.get("seq_scan"),
            seq_tup_read: r.get("seq_tup_read"),
            idx_scan: r.get("idx_scan"),
            idx_tup_fetch: r.get("idx_tup_fetch"),
            n_tup_ins: r.get("n_tup_ins"),
            n_tup_upd: r.get("n_tup_upd"),
            n_tup_del: r.get("n_tup_del"),
            n_tup_hot_upd: r.get("n_tup_hot_upd"),
            n_live_tup: r.get("n_live_tup"),
            n_dead_tup: r.get("n_dead_tup"),
            n_mod_since_analyze: r.get("n_mod_since_analyze"),
            n_ins_since_vacuum: r.get("n_ins_since_vacuum"),
            last_vacuum: opt_ts(&r, "last_vacuum"),
            last_autovacuum: opt_ts(&r, "last_autovacuum"),
            last_analyze: opt_ts(&r, "last_analyze"),
            last_autoanalyze: opt_ts(&r, "last_autoanalyze"),
            vacuum_count: r.get("vacuum_count"),
            autovacuum_count: r.get("autovacuum_count"),
            analyze_count: r.get("analyze_count"),
            autoanalyze_count: r.get("autoanalyze_count"),
            last_seq_scan: opt_ts(&r, "last_seq_scan"),
        });
        tables.push(Table {
            oid,
            schema: r.get("schema"),
            name: r.get("name"),
            kind,
            parent,
            partition_key: r.get("partition_key"),
            partition_bound: r.get("partition_bound"),
            reltuples: r.get("reltuples"),
            relpages: r.get("relpages"),
            relallvisible: r.get("relallvisible"),
            size_bytes: r.get("size_bytes"),
            total_size_bytes: r.get("total_size_bytes"),
            options: r.get("options"),
            columns: columns.remove(&oid).unwrap_or_default(),
            stats,
        });
    }
    Ok(tables)
}

/// Columns of every user table, by table oid, with pg_stats where readable.
async fn columns(client: &Client) -> Result<HashMap<u32, Vec<Column>>, CollectError> {
    // pg_stats holds an inherited row for partitioned parents and plain rows
    // otherwise; prefer the plain one. Arrays of anyarray are read as text and
    // flattened, since element types vary per column.
    let sql = format!(
        "SELECT {SQL_TAG} a.attrelid AS table_oid, a.attnum, a.attname::text AS name, \
           format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null, \
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation \
                THEN co.collname::text END AS collation, \
           st.attname IS NOT NULL AS has_stats, \
           st.null_frac::float8 AS null_frac, st.avg_width AS avg_width, \
           st.n_distinct::float8 AS n_distinct, \
           ARRAY(SELECT unnest(st.most_common_vals::text::text[])) AS most_common_vals, \
           st.most_common_freqs::float8[] AS most_common_freqs, \
           ARRAY(SELECT unnest(st.histogram_bounds::text::text[])) AS histogram_bounds, \
           st.correlation::float8 AS correlation, \
           ARRAY(SELECT unnest(st.most_common_elems::text::text[])) AS most_common_elems, \
           st.most_common_elem_freqs::float8[] AS most_common_elem_freqs \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         LEFT JOIN (SELECT DISTINCT ON (schemaname, tablename, attname) * FROM pg_stats \
                    ORDER BY schemaname, tablename, attname, inherited) st \
           ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname \
         WHERE a.attnum > 0 AND NOT a.attisdropped \
           AND c.relkind IN ('r', 'p', 'm', 'f') AND {USER_RELATION} \
         ORDER BY a.attrelid, a.attnum"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading columns and pg_stats", e))?;
    let mut by_table: HashMap<u32, Vec<Column>> = HashMap::new();
    for r in rows {
        let stats = r.get::<_, bool>("has_stats").then(|| ColumnStats {
            null_frac: r.get::<_, Option<f64>>("null_frac").unwrap_or(0.0),
            avg_width: r.get::<_, Option<i32>>("avg_width").unwrap_or(0),
            n_distinct: r.get::<_, Option<f64>>("n_distinct").unwrap_or(0.0),
            most_common_vals: r
                .get::<_, Option<Vec<Option<String>>>>("most_common_vals")
                .unwrap_or_default(),
            most_common_freqs: r
                .get::<_, Option<Vec<f64>>>("most_common_freqs")
                .unwrap_or_default(),
            histogram_bounds: r
                .get::<_, Option<Vec<Option<String>>>>("histogram_bounds")
                .unwrap_or_default(),
            correlation: r.get("correlation"),
            most_common_elems: r
                .get::<_, Option<Vec<Option<String>>>>("most_common_elems")
                .unwrap_or_default(),
            most_common_elem_freqs: r
                .get::<_, Option<Vec<f64>>>("most_common_elem_freqs")
                .unwrap_or_default(),
        });
        by_table
            .entry(r.get("table_oid"))
            .or_default()
            .push(Column {
                attnum: r.get("attnum"),
                name: r.get("name"),
                data_type: r.get("data_type"),
                not_null: r.get("not_null"),
                collation: r.get("collation"),
                stats,
            });
    }
    Ok(by_table)
}

pub(crate) async fn indexes(client: &Client, version_num: i32) -> Result<Vec<Index>, CollectError> {
    let last_idx_scan = if version_num >= 160000 {
        iso("s.last_idx_scan")
    } else {
        "NULL::text".to_string()
    };
    // Per key position: the column name (NULL for an expression), the text
    // pg_get_indexdef gives for it, and the options, opclass and collation.
    let sql = format!(
        "SELECT {SQL_TAG} i.indexrelid AS oid, n.nspname::text AS schema, c.relname::text AS name, \
           tn.nspname::text AS table_schema, t.relname::text AS table_name, \
           COALESCE(pg_get_indexdef(i.indexrelid), '') AS definition, am.amname::text AS method, \
           i.indnkeyatts::int4 AS key_count, \
           ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 ORDER BY k.ord) AS column_names, \
           ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                 FROM generate_series(1, i.indnatts) k ORDER BY k) AS key_texts, \
           i.indoption::int2[] AS options, \
           ARRAY(SELECT CASE WHEN oc.opcdefault THEN NULL ELSE oc.opcname::text END \
                 FROM unnest(i.indclass::oid[]) WITH ORDINALITY u(opc, ord) \
                 LEFT JOIN pg_opclass oc ON oc.oid = u.opc ORDER BY u.ord) AS opclasses, \
           ARRAY(SELECT CASE WHEN u.coll = 0 OR u.coll = COALESCE(a.attcollation, 100) THEN NULL \
                        ELSE co.collname::text END \
                 FROM unnest(i.indcollation::oid[]) WITH ORDINALITY u(coll, ord) \
                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[u.ord - 1] \
                 LEFT JOIN pg_collation co ON co.oid = u.coll ORDER BY u.ord) AS collations, \
           pg_get_expr(i.indpred, i.indrelid, true) AS predicate, \
           i.indisunique AS is_unique, i.indisprimary AS is_primary, \
           i.indisexclusion AS is_exclusion, i.indisvalid AS is_valid, i.indisready AS is_ready, \
           c.relkind = 'I' AS is_partitioned, \
           pin.nspname::text AS parent_schema, pi.relname::text AS parent_name, \
           con.conname::text AS constraint_name, con.contype::text AS constraint_type, \
           COALESCE(pg_relation_size(i.indexrelid), 0) AS size_bytes, \
           s.indexrelid IS NOT NULL AS has_stats, \
           COALESCE(s.idx_scan, 0) AS idx_scan, COALESCE(s.idx_tup_read, 0) AS idx_tup_read, \
           COALESCE(s.idx_tup_fetch, 0) AS idx_tup_fetch, {last_idx_scan} AS last_idx_scan \
         FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         JOIN pg_am am ON am.oid = c.relam \
         LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid \
         LEFT JOIN pg_class pi ON pi.oid = inh.inhparent \
         LEFT JOIN pg_namespace pin ON pin.oid = pi.relnamespace \
         LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid \
           AND con.contype IN ('p', 'u', 'x') \
         LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid \
         WHERE {} \
         ORDER BY tn.nspname, t.relname, c.relname",
        USER_RELATION.replace("c.oid", "t.oid").replace("n.nspname", "tn.nspname")
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading indexes", e))?;
    Ok(rows.iter().map(index_from_row).collect())
}

fn index_from_row(r: &Row) -> Index {
    let key_count = usize::try_from(r.get::<_, i32>("key_count")).unwrap_or(0);
    let names: Vec<Option<String>> = r.get("column_names");
    let texts: Vec<Option<String>> = r.get("key_texts");
    let options: Vec<i16> = r.get("options");
    let opclasses: Vec<Option<String>> = r.get("opclasses");
    let collations: Vec<Option<String>> = r.get("collations");
    let keys = (0..key_count.min(texts.len()))
        .map(|k| {
            let column = names.get(k).cloned().flatten();
            let option = options.get(k).copied().unwrap_or(0);
            IndexKey {
                expression: match column {
                    Some(_) => None,
                    None => texts.get(k).cloned().flatten(),
                },
                column,
                // indoption bits: 1 = DESC, 2 = NULLS FIRST.
                descending: option & 1 != 0,
                nulls_first: option & 2 != 0,
                opclass: opclasses.get(k).cloned().flatten(),
                collation: collations.get(k).cloned().flatten(),
            }
        })
        .collect();
    let include = names
        .iter()
        .enumerate()
        .skip(key_count)
        .map(|(k, name)| {
            name.clone()
                .or_else(|| texts.get(k).cloned().flatten())
                .unwrap_or_default()
        })
        .collect();
    let parent_index = match (
        r.get::<_, Option<String>>("parent_schema"),
        r.get::<_, Option<String>>("parent_name"),
    ) {
        (Some(schema), Some(name)) => Some(QualifiedName { schema, name }),
        _ => None,
    };
    let constraint = r
        .get::<_, Option<String>>("constraint_name")
        .map(|name| IndexConstraint {
            name,
            kind: match r.get::<_, Option<String>>("constraint_type").as_deref() {
                Some("p") => "primary_key",
                Some("u") => "unique",
                _ => "exclusion",
            }
            .to_string(),
        });
    let stats = r.get::<_, bool>("has_stats").then(|| IndexStats {
        idx_scan: r.get("idx_scan"),
        idx_tup_read: r.get("idx_tup_read"),
        idx_tup_fetch: r.get("idx_tup_fetch"),
        last_idx_scan: opt_ts(r, "last_idx_scan"),
    });
    Index {
        oid: r.get("oid"),
        schema: r.get("schema"),
        name: r.get("name"),
        table: QualifiedName {
            schema: r.get("table_schema"),
            name: r.get("table_name"),
        },
        definition: r.get("definition"),
        method: r.get("method"),
        keys,
        include,
        predicate: r.get("predicate"),
        is_unique: r.get("is_unique"),
        is_primary: r.get("is_primary"),
        is_exclusion: r.get("is_exclusion"),
        is_valid: r.get("is_valid"),
        is_ready: r.get("is_ready"),
        is_partitioned: r.get("is_partitioned"),
        parent_index,
        constraint,
        size_bytes: r.get("size_bytes"),
        stats,
    }
}

pub(crate) async fn foreign_keys(client: &Client) -> Result<Vec<ForeignKey>, CollectError> {
    // Constraints cloned onto partitions (conparentid <> 0) are the parent's.
    let sql = format!(
        "SELECT {SQL_TAG} con.conname::text AS name, n.nspname::text AS schema, c.relname::text AS table_name, \
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
                 ORDER BY k.ord) AS columns, \
           fn.nspname::text AS ref_schema, f.relname::text AS ref_table, \
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum \
                 ORDER BY k.ord) AS ref_columns, \
           COALESCE(pg_get_constraintdef(con.oid, true), '') AS definition, con.convalidated AS validated, \
           rin.nspname::text AS ref_index_schema, ri.relname::text AS ref_index_name \
         FROM pg_constraint con \
         JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_class f ON f.oid = con.confrelid \
         JOIN pg_namespace fn ON fn.oid = f.relnamespace \
         LEFT JOIN pg_class ri ON ri.oid = con.conindid \
         LEFT JOIN pg_namespace rin ON rin.oid = ri.relnamespace \
         WHERE con.contype = 'f' AND con.conparentid = 0 AND {USER_RELATION} \
         ORDER BY n.nspname, c.relname, con.conname"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading foreign keys", e))?;
    Ok(rows
        .into_iter()
        .map(|r| ForeignKey {
            name: r.get("name"),
            table: QualifiedName::new(
                r.get::<_, String>("schema"),
                r.get::<_, String>("table_name"),
            ),
            columns: r.get("columns"),
            referenced_table: QualifiedName::new(
                r.get::<_, String>("ref_schema"),
                r.get::<_, String>("ref_table"),
            ),
            referenced_columns: r.get("ref_columns"),
            definition: r.get("definition"),
            validated: r.get("validated"),
            referenced_index: match (
                r.get::<_, Option<String>>("ref_index_schema"),
                r.get::<_, Option<String>>("ref_index_name"),
            ) {
                (Some(schema), Some(name)) => Some(QualifiedName { schema, name }),
                _ => None,
            },
        })
        .collect())
}

pub(crate) async fn views(client: &Client) -> Result<Vec<View>, CollectError> {
    let sql = format!(
        "SELECT {SQL_TAG} n.nspname::text AS schema, c.relname::text AS name, \
           c.relkind = 'm' AS materialized, \
           ARRAY(SELECT a.attname::text FROM pg_attribute a \
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum) AS columns, \
           pg_get_viewdef(c.oid, true) AS definition \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {USER_RELATION} \
         ORDER BY n.nspname, c.relname"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading views", e))?;
    Ok(rows
        .into_iter()
        .map(|r| View {
            schema: r.get("schema"),
            name: r.get("name"),
            materialized: r.get("materialized"),
            columns: r.get("columns"),
            definition: r.get::<_, Option<String>>("definition").unwrap_or_default(),
        })
        .collect())
}

/// The GIN and GiST operator classes, each with the search and ordering
/// operators its family has for its input type: what the advisor matches a
/// statement's operators against (`jsonb_path_ops` has `@>` but not `?`).
pub(crate) async fn operator_classes(client: &Client) -> Result<Vec<OperatorClass>, CollectError> {
    let sql = format!(
        "SELECT {SQL_TAG} am.amname::text AS method, oc.opcname::text AS name, \
           n.nspname::text AS schema, format_type(oc.opcintype, NULL) AS input_type, \
           oc.opcdefault AS is_default, \
           ARRAY(SELECT DISTINCT o.oprname::text FROM pg_amop ao \
                 JOIN pg_operator o ON o.oid = ao.amopopr \
                 WHERE ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype \
                   AND ao.amoppurpose = 's' ORDER BY 1) AS operators, \
           ARRAY(SELECT DISTINCT o.oprname::text FROM pg_amop ao \
                 JOIN pg_operator o ON o.oid = ao.amopopr \
                 WHERE ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype \
                   AND ao.amoppurpose = 'o' ORDER BY 1) AS ordering_operators, \
           (SELECT e.extname::text FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid \
             WHERE d.classid = 'pg_opclass'::regclass AND d.objid = oc.oid \
               AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' LIMIT 1) AS extension \
         FROM pg_opclass oc \
         JOIN pg_am am ON am.oid = oc.opcmethod \
         JOIN pg_namespace n ON n.oid = oc.opcnamespace \
         WHERE am.amname IN ('gin', 'gist') \
         ORDER BY am.amname, oc.opcname"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading operator classes", e))?;
    Ok(rows
        .iter()
        .map(|r| OperatorClass {
            method: r.get("method"),
            name: r.get("name"),
            schema: r.get("schema"),
            input_type: r.get::<_, Option<String>>("input_type").unwrap_or_default(),
            is_default: r.get("is_default"),
            operators: r.get("operators"),
            ordering_operators: r.get("ordering_operators"),
            extension: r.get("extension"),
        })
        .collect())
}

/// `pg_database.datcollate` of the connected database.
pub(crate) async fn database_collation(client: &Client) -> Result<Option<String>, CollectError> {
    let sql = format!(
        "SELECT {SQL_TAG} datcollate::text FROM pg_database WHERE datname = current_database()"
    );
    let row = client
        .query_opt(&sql, &[])
        .await
        .map_err(|e| CollectError::query("reading the database's collation", e))?;
    Ok(row.map(|r| r.get(0)))
}
