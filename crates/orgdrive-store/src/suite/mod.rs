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
//! asserts is what callers may rely on, whatever the backend. Tests of
//! concurrency race many calls on one store handle: the contract promises
//! that concurrent callers cannot both pass a check, whatever their handle.
//!
//! A backend that does not yet keep part of the contract names those tests:
//!
//! ```ignore
//! orgdrive_store::behaviour_suite!(open_fresh_store, known_failures: [a_test]);
//! ```
//!
//! Such a test still runs and must still fail: it passes while the backend
//! fails it, and fails once the backend keeps the contract (so that the
//! name is taken off the list).

mod console;
mod dav;
mod dentries;
mod events;
pub mod fixtures;
mod grants;
mod identity;
mod lifecycle;
mod maintenance;
mod open_links;
mod recycle;
mod spaces;
mod thumbnails;
mod uploads;
mod wopi;

pub use console::*;
pub use dav::*;
pub use dentries::*;
pub use events::*;
pub use grants::*;
pub use identity::*;
pub use lifecycle::*;
pub use maintenance::*;
pub use open_links::*;
pub use recycle::*;
pub use spaces::*;
pub use thumbnails::*;
pub use uploads::*;
pub use wopi::*;

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Poll;

/// Runs one behaviour test, catching its panic. A known failure must fail
/// (its panic is reported, not propagated); any other test must pass.
pub async fn run<F: Future<Output = ()>>(name: &str, known_failure: bool, test: F) {
    let mut test = std::pin::pin!(test);
    let outcome = std::future::poll_fn(|cx| {
        match catch_unwind(AssertUnwindSafe(|| test.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await;
    match (outcome, known_failure) {
        (Ok(()), false) => {}
        (Err(panic), false) => resume_unwind(panic),
        (Err(_), true) => eprintln!("{name}: known failure of this backend, still failing"),
        (Ok(()), true) => {
            panic!("{name} is listed as a known failure but passes: take it off the list")
        }
    }
}

/// Instantiates every behaviour test as a `#[tokio::test]` over the stores
/// `$open()` makes (`async fn() -> (impl MetaStore, Guard)`), optionally
/// with the tests this backend is known to fail.
#[macro_export]
macro_rules! behaviour_suite {
    ($open:path) => {
        $crate::behaviour_suite!($open, known_failures: []);
    };
    ($open:path, known_failures: [$($known:ident),* $(,)?]) => {
        const BEHAVIOUR_SUITE_KNOWN_FAILURES: &[&str] = &[$(stringify!($known)),*];
        $crate::behaviour_suite!(@tests $open;
            // identity
            a_live_token_is_issued_again_and_extended_a_new_one_only_after_expiry,
            a_token_lives_at_most_its_cap_however_often_it_is_fetched,
            a_stale_token_is_replaced_once_by_racing_callers,
            a_new_app_secret_ends_the_apps_tokens,
            a_token_is_issued_only_under_the_secret_its_caller_checked,
            racing_token_requests_for_one_app_agree_on_one_token,
            expired_tokens_are_not_found_and_are_purged,
            a_caller_is_only_ever_a_user_of_the_apps_org,
            records_are_read_back_as_written,
            keys_and_references_are_enforced,
            every_taken_key_is_named,
            adding_a_member_twice_keeps_one_membership,
            records_need_what_they_refer_to,
            departments_form_a_tree_with_members,
            deleting_an_org_takes_its_apps_users_departments_and_tokens,
            orgs_and_apps_owning_spaces_cannot_be_deleted,
            purging_an_org_empties_it_and_keeps_its_identities,
            identity_listings_are_ordered_by_creation_then_id,
            // spaces
            a_space_is_inserted_once_per_scene,
            racing_space_inserts_store_one_space,
            a_space_needs_its_org_and_app,
            used_bytes_add_up_per_space_app_and_org,
            // dentries
            a_created_dentry_is_answered_as_it_is_read_back,
            conflict_rules_are_applied_inside_the_transaction,
            what_a_put_returns_is_what_is_read_back,
            auto_rename_takes_the_first_free_counter,
            auto_rename_cannot_be_blocked_by_taking_a_few_counters,
            return_existing_charges_nothing_and_consumes_the_upload,
            overwrite_keeps_the_old_content_as_a_version,
            a_put_over_the_quota_or_the_capacity_changes_nothing,
            a_parent_is_a_live_folder_of_the_same_space,
            a_taken_dentry_id_is_a_duplicate,
            racing_puts_of_one_name_keep_names_unique,
            children_are_ordered_by_each_key_then_by_id,
            keyset_pages_never_repeat_or_skip,
            the_space_is_listed_by_modified_time_then_id,
            folder_names_run_from_the_root,
            dentries_are_only_found_in_their_space,
            app_properties_are_set_with_the_dentry,
            // uploads
            uploads_are_read_back_as_written,
            a_refused_commit_changes_nothing_and_keeps_its_upload,
            racing_commits_never_pass_the_quota,
            an_upload_is_committed_once,
            expired_uploads_are_taken_once,
            racing_sweeps_take_each_expired_upload_once,
            pending_bytes_are_reserved_against_quota_and_released_exactly,
            the_org_capacity_caps_reservations_and_commits,
            racing_reservations_never_pass_the_quota,
            parts_together_may_not_exceed_the_announced_size,
            a_part_recorded_without_a_reservation_is_held_to_every_limit,
            inline_objects_are_kept_with_their_part_record,
            a_commit_fails_when_a_part_was_replaced_meanwhile,
            open_uploads_are_capped_per_space_and_per_app,
            racing_uploads_never_pass_the_caps,
            a_put_without_a_length_reserves_what_there_is_room_for,
            // maintenance
            node_numbers_are_never_reused,
            a_job_is_claimed_by_one_node_until_its_claim_expires,
            a_claim_is_seen_until_it_expires_or_is_released,
            the_write_generation_moves_before_a_write_is_answered,
            the_consistency_scan_sees_content_uploads_counters_and_trees,
            repair_usage_sets_counters_to_their_sums,
            after_close_calls_fail_as_unavailable,
            gauges_count_unfinished_tasks_undelivered_events_and_bytes,
            group_commits_are_counted_with_the_writes_they_carried,
            // tree changes
            rename_changes_the_name_and_the_modifier,
            an_overwrite_by_id_follows_the_file_wherever_it_went,
            a_copy_over_itself_changes_nothing,
            a_move_within_a_space_changes_one_row,
            a_plain_file_move_is_the_move_and_anything_else_is_declined,
            moving_to_where_it_is_changes_only_the_modifier,
            a_folder_cannot_go_into_itself,
            move_conflicts_follow_the_rule,
            moves_deeper_are_checked_against_the_limits,
            a_move_needs_a_live_target_folder_in_the_actors_org,
            a_move_across_spaces_moves_the_bytes,
            a_move_across_spaces_over_the_target_quota_changes_nothing,
            a_copy_gets_new_ids_and_shares_content,
            a_copy_over_the_quota_changes_nothing,
            versions_are_listed_newest_first_in_pages,
            reverting_makes_an_old_content_current_again,
            app_properties_are_upserted_and_capped_per_app,
            racing_moves_of_two_folders_into_each_other_never_make_a_cycle,
            racing_copies_never_pass_the_quota,
            // recycle bin, trash, tasks
            deleting_to_the_bin_keeps_the_bytes_and_lists_the_item,
            a_restored_item_comes_back_with_its_ids,
            a_restore_follows_the_conflict_rule,
            items_binned_under_a_deleted_folder_keep_their_own_items,
            a_permanent_delete_frees_the_bytes_and_trashes_unreferenced_objects,
            shared_objects_are_trashed_only_with_their_last_reference,
            purging_items_frees_their_bytes_and_trashes_their_objects,
            trashed_objects_are_listed_oldest_first_and_forgotten,
            a_recycle_bin_is_stored_once_per_scope,
            recycle_items_are_listed_newest_first_in_keyset_pages,
            tasks_are_stored_started_and_failed,
            a_task_is_claimed_by_one_node_until_its_claim_expires,
            a_change_completes_its_task_in_its_transaction,
            // grants
            grants_are_listed_by_member_bytewise_in_keyset_pages,
            adding_again_replaces_the_members_grant_on_the_dentry,
            an_update_needs_every_member_to_hold_a_live_grant,
            grants_are_written_only_on_a_live_dentry_of_the_space,
            revoking_removes_only_the_members_grants_of_the_role,
            space_grants_are_every_live_grant_of_the_space,
            a_users_departments_include_all_their_ancestors,
            expired_grants_are_purged,
            a_permanent_delete_removes_the_subtrees_grants_and_the_bin_keeps_them,
            grants_leave_with_the_user_or_department_they_name,
            a_protected_move_refuses_to_remove_an_owner_grant,
            a_protected_grant_write_never_replaces_an_owner_grant,
            a_move_within_a_space_keeps_or_drops_the_grants_of_its_subtree,
            a_move_across_spaces_takes_the_grants_along_or_drops_them,
            a_copy_copies_no_grants,
            // thumbnails
            thumbnails_belong_to_their_content_and_leave_with_it,
            // events
            every_tree_change_appends_its_event_and_a_failed_one_none,
            event_ids_grow_with_time,
            subscriptions_decide_what_an_app_gets_from_when,
            a_cursor_moves_only_under_its_nodes_lease,
            old_events_are_purged_per_org_and_seq_never_goes_back,
            a_stream_ticket_is_redeemed_once_until_it_expires,
            callbacks_are_kept_per_app,
            // open links
            open_links_are_replaced_the_latest_wins_and_they_leave_with_the_dentry,
            // WebDAV
            dead_properties_are_patched_at_once_bounded_and_leave_with_the_dentry,
            // wopi
            wopi_tokens_rotate_once_and_a_replay_revokes_the_family,
            wopi_locks_change_by_compare_and_set,
            a_wopi_put_checks_the_lock_in_its_transaction,
            // console
            a_password_is_set_per_user_and_ends_their_sessions,
            console_sessions_live_until_they_expire_or_are_ended,
            usage_parts_count_versions_and_the_recycle_bin_apart,
            a_person_sees_what_is_shared_with_them_below_a_root,
            a_person_sees_the_spaces_they_own_or_hold_a_live_root_grant_in,
            a_spaces_names_are_searched_bytewise_among_live_dentries,
        );
    };
    (@tests $open:path; $($test:ident),* $(,)?) => {
        #[test]
        fn behaviour_suite_known_failures_name_its_tests() {
            let tests: &[&str] = &[$(stringify!($test)),*];
            for known in BEHAVIOUR_SUITE_KNOWN_FAILURES {
                assert!(tests.contains(known), "{known} is no behaviour test");
            }
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let name = stringify!($test);
                let known_failure = BEHAVIOUR_SUITE_KNOWN_FAILURES.contains(&name);
                $crate::suite::run(name, known_failure, async {
                    let (store, _guard) = $open().await;
                    $crate::suite::$test(&store).await;
                })
                .await;
            }
        )*
    };
}
