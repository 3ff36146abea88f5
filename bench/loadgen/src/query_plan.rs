//! `query-plan`: how the SQLite bundled with orgdrive (the same rusqlite and
//! libsqlite3-sys as orgdrive-sqlite) plans and runs one statement on a data
//! dir's `meta.sqlite`, opened read-only. The system's `sqlite3` may be
//! another version with another planner, so plans of orgdrive's statements
//! are read here. Prints the plan (EXPLAIN QUERY PLAN), the rows the
//! statement returned and the seconds it took, as one JSON line.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OpenFlags};
use serde_json::{json, Value};

/// `params` bind ?1, ?2...: an integer if it parses as i64 and is not
/// quoted with a leading `'`, else text.
pub fn run(db: &Path, sql: &str, params: &[String]) -> Result<Value> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let bind: Vec<SqlValue> = params
        .iter()
        .map(|p| match (p.strip_prefix('\''), p.parse::<i64>()) {
            (Some(text), _) => SqlValue::Text(text.to_string()),
            (None, Ok(i)) => SqlValue::Integer(i),
            (None, Err(_)) => SqlValue::Text(p.clone()),
        })
        .collect();
    let mut plan = Vec::new();
    {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let mut rows = st.query(params_from_iter(bind.iter()))?;
        while let Some(r) = rows.next()? {
            let (id, parent, detail): (i64, i64, String) = (r.get(0)?, r.get(1)?, r.get(3)?);
            plan.push(format!("{id} {parent} {detail}"));
        }
    }
    let started = Instant::now();
    let mut st = conn.prepare(sql)?;
    let columns = st.column_count();
    let mut rows = st.query(params_from_iter(bind.iter()))?;
    let (mut count, mut first) = (0u64, Vec::new());
    while let Some(r) = rows.next()? {
        if count == 0 {
            for i in 0..columns {
                first.push(match r.get::<_, SqlValue>(i)? {
                    SqlValue::Integer(i) => json!(i),
                    SqlValue::Real(f) => json!(f),
                    SqlValue::Text(t) => json!(t),
                    SqlValue::Null => Value::Null,
                    SqlValue::Blob(b) => json!(format!("<{} bytes>", b.len())),
                });
            }
        }
        count += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "cmd": "query-plan",
        "sqlite": rusqlite::version(),
        "plan": plan,
        "rows": count,
        "first_row": first,
        "seconds": (secs * 1e6).round() / 1e6,
    }))
}
