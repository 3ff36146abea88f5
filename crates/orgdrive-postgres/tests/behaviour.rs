//! The store contract's behaviour suite, on PostgreSQL (a database per
//! test; `ORGDRIVE_TEST_PG_URL`, see `scripts/postgres.sh`).

mod common;

use common::open_fresh_store;

orgdrive_store::behaviour_suite!(open_fresh_store);
