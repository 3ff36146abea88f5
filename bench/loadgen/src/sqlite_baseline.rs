//! The durable-write ceiling of this disk: raw SQLite (the same bundled
//! library version as orgdrive-sqlite's rusqlite), one connection,
//! journal_mode=WAL, synchronous=FULL — orgdrive's durability. Phase 1: one
//! INSERT per transaction (one WAL fsync each). Phase 2: 1000 INSERTs per
//! transaction.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;
use rusqlite::{params, Connection};
use serde_json::{json, Value};

pub fn run(path: &Path, duration: Duration, batch_duration: Duration) -> Result<Value> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(&p);
    }
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    // A row shaped roughly like a dentry: a text key with a unique index and ~150 bytes.
    conn.execute_batch(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, \
         created_at INTEGER NOT NULL);",
    )?;
    let payload = "x".repeat(150);
    let mut next: i64 = 0;

    // Phase 1: single-row transactions.
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let start = Instant::now();
    let mut single = 0u64;
    {
        let mut stmt =
            conn.prepare("INSERT INTO rows (name, payload, created_at) VALUES (?1, ?2, ?3)")?;
        while start.elapsed() < duration {
            let t0 = Instant::now();
            conn.execute_batch("BEGIN IMMEDIATE")?;
            stmt.execute(params![format!("row-{next}"), payload, next])?;
            conn.execute_batch("COMMIT")?;
            next += 1;
            single += 1;
            let _ = hist.record((t0.elapsed().as_micros() as u64).max(1));
        }
    }
    let single_secs = start.elapsed().as_secs_f64();

    // Phase 2: 1000-row transactions.
    let start = Instant::now();
    let mut batches = 0u64;
    {
        let mut stmt =
            conn.prepare("INSERT INTO rows (name, payload, created_at) VALUES (?1, ?2, ?3)")?;
        while start.elapsed() < batch_duration {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for _ in 0..1000 {
                stmt.execute(params![format!("row-{next}"), payload, next])?;
                next += 1;
            }
            conn.execute_batch("COMMIT")?;
            batches += 1;
        }
    }
    let batch_secs = start.elapsed().as_secs_f64().max(1e-9);
    let version: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(json!({
        "cmd": "sqlite-baseline",
        "path": path.display().to_string(),
        "sqlite_version": version,
        "journal_mode": mode,
        "synchronous": sync,
        "single_tx": single,
        "single_seconds": single_secs,
        "single_tx_per_s": (single as f64 / single_secs * 10.0).round() / 10.0,
        "single_p50_ms": ms(hist.value_at_quantile(0.5)),
        "single_p99_ms": ms(hist.value_at_quantile(0.99)),
        "batch1000_tx": batches,
        "batch1000_seconds": batch_secs,
        "batch1000_tx_per_s": (batches as f64 / batch_secs * 10.0).round() / 10.0,
        "batch1000_rows_per_s": (batches as f64 * 1000.0 / batch_secs).round(),
    }))
}
