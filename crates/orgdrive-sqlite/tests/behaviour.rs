//! The store contract's behaviour suite, on SQLite.

use orgdrive_sqlite::{SqliteOptions, SqliteStore};

async fn open_fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    (SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap(), dir)
}

// Known gaps between this backend and the contract (each test still runs and
// must still fail; take its name off once the backend keeps the contract):
// - a_dept_member_is_added_once: adding a member twice returns Ok (ON CONFLICT
//   DO NOTHING), not Duplicate(Key::DeptMember);
// - a_taken_dentry_id_is_a_duplicate: a put reusing a dentry_id or uuid fails
//   with Backend("no rows returned…"), not Duplicate(Key::DentryId);
// - identity_listings_are_ordered_by_id: list_orgs/apps/users/depts and
//   list_dept_members order by created_at first, not by their id.
orgdrive_store::behaviour_suite!(open_fresh_store, known_failures: [
    a_dept_member_is_added_once,
    a_taken_dentry_id_is_a_duplicate,
    identity_listings_are_ordered_by_id,
]);
