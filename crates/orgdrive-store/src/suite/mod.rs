//! The behaviour suite: the store contract's tests, written once and run
//! against every backend. A backend's test file instantiates it with one line,
//! naming an async function that opens a fresh, empty store (and returns a
//! guard that keeps its files alive while the test runs):
//!
//! ```ignore
//! orgdrive_store::behaviour_suite!(open_fresh_store);
//! ```
//!
//! Every test takes the store through the contract's traits only, so what it
//! asserts is what callers may rely on, whatever the backend.

mod identity;

pub use identity::*;

/// Instantiates every behaviour test as a `#[tokio::test]` over the stores
/// `$open()` makes (`async fn() -> (impl MetaStore, Guard)`).
#[macro_export]
macro_rules! behaviour_suite {
    ($open:path) => {
        $crate::behaviour_suite!(@tests $open;
            a_live_token_is_issued_again_and_extended_a_new_one_only_after_expiry,
            expired_tokens_are_not_found_and_are_purged,
        );
    };
    (@tests $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let (store, _guard) = $open().await;
                $crate::suite::$test(&store).await;
            }
        )*
    };
}
