//! Copies of a live database for backups, and checks of such copies. A
//! snapshot is SQLite's online backup API run in one step: it reads one
//! consistent view of the database inside a single read transaction, which
//! in WAL mode never blocks the writer (of this process or of a running
//! server), and writes a self-contained file (rollback journal, no `-wal`).

use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use orgdrive_store::{StoreError, StoreResult};

use crate::{backend, migrate, BUSY_TIMEOUT};

/// Copies the database at `live` (which may be in use) to the new file
/// `dest`, consistent as of one instant; answers the copy's schema version.
/// Refuses a database of a schema newer than this build knows.
pub fn snapshot(live: &Path, dest: &Path) -> StoreResult<i64> {
    if !live.is_file() {
        return Err(StoreError::Backend(format!("no database at {}", live.display())));
    }
    // Never created here: a missing file is an error above, not a new database.
    let source = Connection::open_with_flags(
        live,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    source.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    let mut copy = Connection::open(dest).map_err(backend)?;
    {
        let backup = Backup::new(&source, &mut copy).map_err(backend)?;
        // One step of every page: one read transaction, so one instant. A
        // busy source (a checkpoint holding a lock) is waited for.
        let mut waited = std::time::Duration::ZERO;
        loop {
            match backup.step(-1).map_err(backend)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if waited < BUSY_TIMEOUT => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    waited += std::time::Duration::from_millis(5);
                }
                _ => return Err(StoreError::Backend("the database stayed locked".into())),
            }
        }
    }
    // A file that stands alone: no WAL beside it.
    let mode: String =
        copy.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0)).map_err(backend)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Backend(format!("the copy kept journal_mode {mode}")));
    }
    let version = migrate::schema_version(&copy)?;
    if version > migrate::LATEST {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}; this build knows up to {}: \
             back it up with the server's own build",
            migrate::LATEST
        )));
    }
    // Job leases belong to the source's running nodes (the backup's own
    // hold of the trash among them): a drive restored from the copy starts
    // without them, instead of waiting for them to lapse.
    if version >= JOB_LEASES_SINCE {
        copy.execute("DELETE FROM job_leases", []).map_err(backend)?;
    }
    copy.close().map_err(|(_, e)| backend(e))?;
    Ok(version)
}

/// The schema version that made the `job_leases` table (0011_leases.sql).
const JOB_LEASES_SINCE: i64 = 11;

/// The schema version of the database at `path` (which may be in use),
/// read without changing anything.
pub fn schema_version(path: &Path) -> StoreResult<i64> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    migrate::schema_version(&conn)
}

/// Checks a database file that nothing else uses (a snapshot): its schema
/// version and the problems SQLite's `integrity_check` finds (none: empty).
pub fn check(path: &Path) -> StoreResult<(i64, Vec<String>)> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(backend)?;
    let mut statement = conn.prepare("PRAGMA integrity_check").map_err(backend)?;
    let problems: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let problems = problems.into_iter().filter(|p| p != "ok").collect();
    Ok((migrate::schema_version(&conn)?, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_one_instant_of_a_database_in_use_and_stands_alone() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sqlite");
        let writer = Connection::open(&live).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA user_version = 3; \
                 CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2);",
            )
            .unwrap();
        // The writer keeps its connection open; the copy is of what it had
        // committed.
        let copy = dir.path().join("copy.sqlite");
        assert_eq!(snapshot(&live, &copy).unwrap(), 3);
        writer.execute_batch("INSERT INTO t VALUES (3)").unwrap();
        assert!(!dir.path().join("copy.sqlite-wal").exists());
        assert_eq!(schema_version(&live).unwrap(), 3);
        let (version, problems) = check(&copy).unwrap();
        assert_eq!((version, problems), (3, Vec::<String>::new()));
        let rows: i64 = Connection::open(&copy)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
        // The copy is not created over, and a missing database is no database.
        assert!(snapshot(&dir.path().join("none.sqlite"), &dir.path().join("x")).is_err());
        assert!(!dir.path().join("none.sqlite").exists());
        // A newer schema than this build's is refused.
        writer.execute_batch(&format!("PRAGMA user_version = {}", migrate::LATEST + 1)).unwrap();
        let newer = snapshot(&live, &dir.path().join("newer.sqlite")).unwrap_err();
        assert!(newer.to_string().contains("knows up to"), "{newer}");
    }

    #[test]
    fn snapshots_taken_while_a_writer_commits_are_each_one_instant() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sqlite");
        let setup = Connection::open(&live).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER); \
                 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000) \
                 INSERT INTO t SELECT i FROM c; INSERT INTO t SELECT -n FROM t;",
            )
            .unwrap();
        drop(setup);
        // Each transaction adds n and -n: any one instant sums to zero and
        // holds an even number of rows; a copy made of pages from several
        // instants would not.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (live, stop) = (live.clone(), stop.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(&live).unwrap();
                conn.busy_timeout(BUSY_TIMEOUT).unwrap();
                let mut n = 1_000_000i64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    conn.execute_batch(&format!(
                        "BEGIN IMMEDIATE; INSERT INTO t VALUES ({n}); \
                         UPDATE t SET n = n WHERE rowid % 97 = {n} % 97; \
                         INSERT INTO t VALUES (-{n}); COMMIT;"
                    ))
                    .unwrap();
                }
                n - 1_000_000
            })
        };
        for i in 0..5 {
            let copy = dir.path().join(format!("copy{i}.sqlite"));
            snapshot(&live, &copy).unwrap();
            let (sum, rows): (i64, i64) = Connection::open(&copy)
                .unwrap()
                .query_row("SELECT SUM(n), COUNT(*) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!((sum, rows % 2), (0, 0), "copy {i}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0, "the writer committed meanwhile");
    }

    #[test]
    fn a_damaged_copy_is_found_by_its_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (n TEXT); CREATE INDEX t_n ON t (n); \
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) \
             INSERT INTO t SELECT printf('%0100d', i) FROM c;",
        )
        .unwrap();
        drop(conn);
        // Overwrite part of a page in the middle of the file.
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 512].fill(0xA5);
        std::fs::write(&path, bytes).unwrap();
        let found = check(&path).map(|(_, problems)| problems.len()).unwrap_or(1);
        assert!(found > 0);
    }
}
