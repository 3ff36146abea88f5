//! The domain without HTTP: [`Drive`] over a SQLite metadata store (in a
//! temp dir) and an in-memory content store, driven the way the server
//! drives it — identity, tokens, the operator, spaces, folders, the
//! three-step upload (PUTs through `receive_blob`), downloads, quotas — and
//! the `DriveError` each refusal maps to.

mod common;

use common::*;

#[tokio::test]
async fn a_token_is_issued_again_while_it_lives() {
    let w = world().await;
    let again = w.drive.issue_token("app-key", SECRET).await.unwrap();
    assert_eq!(again.access_token, w.token, "the live token is returned again");
    assert_eq!(again.expire_in, ACCESS_TOKEN_TTL_SECS);
    for (key, secret) in [("app-key", "not-the-secret-at-all"), ("nobody", SECRET)] {
        let refused = w.drive.issue_token(key, secret).await;
        assert!(matches!(refused, Err(DriveError::InvalidAuthentication(_))), "{refused:?}");
    }
    // A server whose signing key changed cannot hand out the live token
    // again: it issues a new one, and the old one stops working.
    let mut rekeyed = options();
    rekeyed.signing_key = b"another-signing-key-of-32-bytes!!".to_vec();
    let other = drive_on(&w.dir, rekeyed).await;
    let fresh = other.issue_token("app-key", SECRET).await.unwrap().access_token;
    assert_ne!(fresh, w.token);
    assert_eq!(other.issue_token("app-key", SECRET).await.unwrap().access_token, fresh);
    let old = other.operator(Some(&w.token), None, Some("ann")).await;
    assert!(matches!(old, Err(DriveError::InvalidAuthentication(_))), "{old:?}");
    let op = other.operator(Some(&fresh), Some(Scope::SpaceRead), Some("ann")).await.unwrap();
    assert_eq!((op.app.app_id, op.user.union_id), (w.app.app.app_id.clone(), "ann".to_string()));
}

#[tokio::test]
async fn the_operator_is_resolved_and_refused_in_order() {
    let w = world_with(options(), None, &[Scope::SpaceRead]).await;
    let op = w.drive.operator(Some(&w.token), Some(Scope::SpaceRead), Some("ann")).await.unwrap();
    assert_eq!(op.user, w.user);
    assert_eq!(op.corp_id(), w.corp_id);
    for token in [None, Some(""), Some("forged")] {
        let refused = w.drive.operator(token, Some(Scope::SpaceRead), Some("ann")).await;
        assert!(matches!(refused, Err(DriveError::InvalidAuthentication(_))), "{refused:?}");
    }
    // The scope is checked before the user.
    let refused = w.drive.operator(Some(&w.token), Some(Scope::FileWrite), None).await;
    assert!(matches!(refused, Err(DriveError::ScopeDenied { required: Scope::FileWrite })));
    let refused = w.drive.operator(Some(&w.token), Some(Scope::SpaceRead), None).await;
    assert_eq!(param_field(refused.as_ref().unwrap_err()), Some("unionId"));
    // A user of another org is no user of this app.
    let other =
        w.drive.create_org(NewOrg { name: "Other".into(), ..NewOrg::default() }).await.unwrap();
    let bob = NewUser { name: "Bob".into(), union_id: Some("bob".into()), ..NewUser::default() };
    w.drive.create_user(&other.corp_id, bob).await.unwrap();
    for union_id in ["bob", "nobody"] {
        let refused = w.drive.operator(Some(&w.token), None, Some(union_id)).await;
        assert!(matches!(refused, Err(DriveError::PermissionDenied(_))), "{refused:?}");
    }
}

#[tokio::test]
async fn admin_refusals_map_to_drive_errors() {
    let w = world().await;
    let c = w.corp_id.as_str();
    let app =
        |key: &str| NewApp { name: "x".into(), app_key: Some(key.into()), ..NewApp::default() };
    let refused = w.drive.create_app("ding-nope", app("other")).await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "corpId", .. }), "{refused:?}");
    let refused = w.drive.create_app(c, app("app-key")).await.unwrap_err();
    assert!(matches!(refused, DriveError::Conflict { field: "appKey", .. }), "{refused:?}");
    let bad_scope = NewApp { scopes: vec!["Storage.Everything".into()], ..app("k2") };
    assert_eq!(param_field(&w.drive.create_app(c, bad_scope).await.unwrap_err()), Some("scopes"));
    let short_secret = NewApp { app_secret: Some("short".into()), ..app("k3") };
    let refused = w.drive.create_app(c, short_secret).await.unwrap_err();
    assert_eq!(param_field(&refused), Some("appSecret"));
    let user = |union_id: &str, user_id: &str| NewUser {
        name: "u".into(),
        union_id: Some(union_id.into()),
        user_id: Some(user_id.into()),
        ..NewUser::default()
    };
    w.drive.create_user(c, user("cat", "7")).await.unwrap();
    let refused = w.drive.create_user(c, user("dan", "7")).await.unwrap_err();
    assert!(matches!(refused, DriveError::Conflict { field: "userId", .. }), "{refused:?}");
    let refused = w.drive.create_user(c, user("cat", "8")).await.unwrap_err();
    assert!(matches!(refused, DriveError::Conflict { field: "unionId", .. }), "{refused:?}");
    let refused = w.drive.create_user("ding-nope", user("eve", "9")).await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "corpId", .. }), "{refused:?}");
    // Orgs and apps owning spaces stay; unknown ones are not found.
    space(&w, None).await;
    let refused = w.drive.delete_org(c).await.unwrap_err();
    assert!(matches!(refused, DriveError::InUse(_)), "{refused:?}");
    let refused = w.drive.delete_app(c, &w.app.app.app_id).await.unwrap_err();
    assert!(matches!(refused, DriveError::InUse(_)), "{refused:?}");
    let refused = w.drive.delete_app(c, "404").await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "appId", .. }), "{refused:?}");
    let refused = w.drive.delete_org("ding-nope").await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "corpId", .. }), "{refused:?}");
    assert!(w.drive.operator(Some(&w.token), None, Some("ann")).await.is_ok());
}

#[tokio::test]
async fn a_space_is_created_once_per_scene() {
    let w = world_with(options(), Some(1000), &Scope::ALL).await;
    let scene = |scene_id: &str| NewSpace {
        scene: Some("chat".into()),
        scene_id: Some(scene_id.into()),
        quota: Some(100),
        ..NewSpace::default()
    };
    let first = w.drive.add_space(&w.op, scene("1")).await.unwrap();
    let again = w.drive.add_space(&w.op, NewSpace { quota: Some(5), ..scene("1") }).await.unwrap();
    assert_eq!(again.space.space_id, first.space.space_id);
    assert_eq!(again.space.quota, Some(100), "the stored space, not the new input");
    let other = w.drive.add_space(&w.op, scene("2")).await.unwrap();
    assert_ne!(other.space.space_id, first.space.space_id);
    assert_eq!(first.space.owner_id, "ann");
    let got = w.drive.get_space(&w.op, &first.space.space_id).await.unwrap();
    assert_eq!(got.space, first.space);
    // Input rules.
    let too_big = w.drive.add_space(&w.op, NewSpace { quota: Some(1001), ..scene("3") }).await;
    assert_eq!(param_field(&too_big.unwrap_err()), Some("quota"));
    let owner = NewSpace { owner_type: Some("GROUP".into()), ..scene("3") };
    assert_eq!(param_field(&w.drive.add_space(&w.op, owner).await.unwrap_err()), Some("ownerType"));
    let refused = w.drive.get_space(&w.op, "404").await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "spaceId", .. }), "{refused:?}");
    // Another app of the org reaches the space through the operator's roles:
    // its owner may, a user without a grant may not.
    let second = NewApp {
        name: "Second".into(),
        scopes: vec![Scope::SpaceRead.as_str().into()],
        app_key: Some("second".into()),
        app_secret: Some(SECRET.into()),
    };
    w.drive.create_app(&w.corp_id, second).await.unwrap();
    let token = w.drive.issue_token("second", SECRET).await.unwrap().access_token;
    let op = w.drive.operator(Some(&token), None, Some("ann")).await.unwrap();
    let got = w.drive.get_space(&op, &first.space.space_id).await.unwrap();
    assert_eq!(got.space, first.space);
    let bob = NewUser { name: "Bob".into(), union_id: Some("bob".into()), ..NewUser::default() };
    w.drive.create_user(&w.corp_id, bob).await.unwrap();
    for token in [&token, &w.token] {
        let op = w.drive.operator(Some(token), None, Some("bob")).await.unwrap();
        let refused = w.drive.get_space(&op, &first.space.space_id).await.unwrap_err();
        assert!(matches!(refused, DriveError::PermissionDenied(_)), "{refused:?}");
    }
}

#[tokio::test]
async fn folders_follow_their_conflict_strategy() {
    let w = world().await;
    let s = space(&w, None).await;
    let folder = |name: &str, strategy: Option<&str>| NewFolder {
        name: Some(name.into()),
        conflict_strategy: strategy.map(str::to_string),
        ..NewFolder::default()
    };
    let docs = w.drive.add_folder(&w.op, &s, "0", folder("docs", None)).await.unwrap();
    assert_eq!((docs.path.as_str(), docs.dentry.is_folder()), ("/docs", true));
    let renamed = w.drive.add_folder(&w.op, &s, "0", folder("docs", None)).await.unwrap();
    assert_eq!(renamed.dentry.name, "docs(1)");
    let renamed = w.drive.add_folder(&w.op, &s, "0", folder("docs", Some("auto_rename"))).await;
    assert_eq!(renamed.unwrap().dentry.name, "docs(2)");
    for strategy in ["RETURN_DENTRY_IF_EXISTS", "OVERWRITE"] {
        let existing = w.drive.add_folder(&w.op, &s, "0", folder("docs", Some(strategy))).await;
        assert_eq!(existing.unwrap().dentry.dentry_id, docs.dentry.dentry_id, "{strategy}");
    }
    let refused =
        w.drive.add_folder(&w.op, &s, "0", folder("docs", Some("RETURN_ERROR_IF_EXISTS"))).await;
    assert_eq!(param_field(&refused.unwrap_err()), Some("name"));
    let refused = w.drive.add_folder(&w.op, &s, "0", folder("docs", Some("REPLACE"))).await;
    assert_eq!(param_field(&refused.unwrap_err()), Some("conflictStrategy"));
    let refused = w.drive.add_folder(&w.op, &s, "0", folder("a/b", None)).await;
    assert_eq!(param_field(&refused.unwrap_err()), Some("name"));
    let sub = w.drive.add_folder(&w.op, &s, &docs.dentry.dentry_id, folder("子", None)).await;
    assert_eq!(sub.unwrap().path, "/docs/子");
    let refused = w.drive.add_folder(&w.op, &s, "404", folder("x", None)).await.unwrap_err();
    assert!(matches!(refused, DriveError::NotFound { field: "parentId", .. }), "{refused:?}");
    assert_eq!(used(&w, &s).await, 0);
}

#[tokio::test]
async fn an_upload_is_committed_and_downloaded() {
    let w = world().await;
    let s = space(&w, Some(1000)).await;
    let pre_check = PreCheck {
        name: Some("hello.txt".into()),
        parent_id: Some("0".into()),
        size: Some(11),
        md5: Some("5EB63BBBE01EEED093CB22BB8F5ACDC3".into()),
    };
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(pre_check), BASE).await.unwrap();
    assert!(ticket.url.expiration_seconds > 0);
    // The bytes may arrive in pieces; nothing is charged before the commit.
    let signed = parse(&ticket.url);
    let written = w
        .drive
        .receive_blob(
            &signed.path,
            signed.expires,
            &signed.signature,
            Some(11),
            body(&[b"hello ", b"world"]),
        )
        .await
        .unwrap();
    assert_eq!(written.size, 11);
    assert_eq!(written.md5.as_deref(), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    assert_eq!(used(&w, &s).await, 0);
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key.clone()),
        name: Some("hello.txt".into()),
        parent_id: Some("0".into()),
        size: Some(11),
        ..CommitRequest::default()
    };
    let file = w.drive.commit_file(&w.op, &s, commit.clone()).await.unwrap();
    assert_eq!((file.path.as_str(), file.dentry.size, file.dentry.version), ("/hello.txt", 11, 1));
    assert_eq!(file.extension(), Some("txt"));
    assert_eq!(used(&w, &s).await, 11);
    assert_eq!(download(&w, &s, &file.dentry.dentry_id, None).await, b"hello world");
    // The upload was consumed.
    let again = w.drive.commit_file(&w.op, &s, commit).await.unwrap_err();
    assert_eq!(param_field(&again), Some("uploadKey"));
    let late = put_bytes(&w, &ticket.url, b"late", true).await.unwrap_err();
    assert_eq!(param_field(&late), Some("uploadKey"));
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_multipart_upload_is_joined_in_part_order() {
    let w = world().await;
    let s = space(&w, None).await;
    // Every part but the last has at least MIN_PART_BYTES.
    let hello = b"hello ".repeat(MIN_PART_BYTES as usize / 6 + 1);
    let size = hello.len() as i64 + 5;
    let request = UploadRequest {
        pre_check: PreCheck { size: Some(size), ..PreCheck::default() },
        ..UploadRequest::default()
    };
    let key = w.drive.init_multipart_upload(&w.op, &s, request).await.unwrap();
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&key), &[1, 2], BASE).await.unwrap();
    // Part 2 first, and part 1 twice: the second PUT replaces the first.
    put_bytes(&w, &urls[1].1, b"world", false).await.unwrap();
    put_bytes(&w, &urls[0].1, &hello.to_ascii_uppercase(), true).await.unwrap();
    put_bytes(&w, &urls[0].1, &hello, true).await.unwrap();
    // Parts may not pass the announced size together.
    let too_much = put_bytes(&w, &urls[0].1, &[&hello[..], b","].concat(), true).await.unwrap_err();
    assert!(matches!(too_much, DriveError::TooLarge(_)), "{too_much:?}");
    let commit = CommitRequest {
        upload_key: Some(key),
        name: Some("joined.txt".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    let file = w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    assert_eq!(file.dentry.size, size);
    assert_eq!(
        download(&w, &s, &file.dentry.dentry_id, None).await,
        [&hello[..], b"world"].concat()
    );
    assert_eq!(used(&w, &s).await, size);
    // The parts are gone; only the joined content is kept.
    assert!(w.drive.blob().list("parts/").await.unwrap().is_empty());
    assert_consistent(&w).await;
}

#[tokio::test]
async fn the_quota_refuses_what_does_not_fit() {
    let w = world().await;
    let s = space(&w, Some(10)).await;
    let announced = PreCheck { size: Some(11), ..PreCheck::default() };
    let refused = w.drive.get_file_upload_info(&w.op, &s, single(announced), BASE).await;
    assert!(matches!(refused, Err(DriveError::QuotaExceeded(_))), "{refused:?}");
    upload(&w, &s, "eight", b"12345678", None).await.unwrap();
    // 2 bytes are left: a PUT of 5 is refused, announced or not.
    let ticket =
        w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE).await.unwrap();
    for announce in [true, false] {
        let refused = put_bytes(&w, &ticket.url, b"12345", announce).await.unwrap_err();
        assert!(matches!(refused, DriveError::TooLarge(_)), "{refused:?}");
    }
    // Refused PUTs hold nothing: 2 bytes still fit.
    put_bytes(&w, &ticket.url, b"12", false).await.unwrap();
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key),
        name: Some("two".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    assert_eq!(used(&w, &s).await, 10);
    let refused = upload(&w, &s, "one", b"1", None).await.unwrap_err();
    assert!(matches!(refused, DriveError::TooLarge(_)), "{refused:?}");
    assert_consistent(&w).await;
}

#[tokio::test]
async fn the_org_capacity_holds_across_spaces() {
    let w = world_with(options(), Some(10), &Scope::ALL).await;
    let (a, b) = (space(&w, None).await, space(&w, Some(8)).await);
    let first =
        w.drive.get_file_upload_info(&w.op, &a, single(PreCheck::default()), BASE).await.unwrap();
    put_bytes(&w, &first.url, b"123456", true).await.unwrap();
    // The bytes PUT in space a hold their room in the org: 4 are left for b.
    let second =
        w.drive.get_file_upload_info(&w.op, &b, single(PreCheck::default()), BASE).await.unwrap();
    let refused = put_bytes(&w, &second.url, b"12345", true).await.unwrap_err();
    assert!(matches!(refused, DriveError::TooLarge(_)), "{refused:?}");
    let commit = CommitRequest {
        upload_key: Some(first.upload_key),
        name: Some("six".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    w.drive.commit_file(&w.op, &a, commit).await.unwrap();
    let org = w.drive.get_org(&w.op, &w.corp_id).await.unwrap();
    assert_eq!((org.partitions[0].quota.used, org.partitions[0].quota.max), (6, Some(10)));
    let announced = PreCheck { size: Some(5), ..PreCheck::default() };
    let refused = w.drive.get_file_upload_info(&w.op, &b, single(announced), BASE).await;
    assert!(matches!(refused, Err(DriveError::QuotaExceeded(_))), "{refused:?}");
    put_bytes(&w, &second.url, b"1234", true).await.unwrap();
    assert_consistent(&w).await;
}

#[tokio::test]
async fn commits_follow_their_conflict_strategy() {
    let w = world().await;
    let s = space(&w, None).await;
    let first = upload(&w, &s, "a.txt", b"one", None).await.unwrap();
    let renamed = upload(&w, &s, "a.txt", b"two", None).await.unwrap();
    assert_eq!(renamed.dentry.name, "a(1).txt");
    let over = upload(&w, &s, "a.txt", b"three", Some("OVERWRITE")).await.unwrap();
    assert_eq!(over.dentry.dentry_id, first.dentry.dentry_id);
    assert_eq!((over.dentry.version, over.dentry.size), (2, 5));
    assert_eq!(download(&w, &s, &first.dentry.dentry_id, None).await, b"three");
    assert_eq!(download(&w, &s, &first.dentry.dentry_id, Some(1)).await, b"one");
    let existing = upload(&w, &s, "a.txt", b"four", Some("RETURN_DENTRY_IF_EXISTS")).await;
    let existing = existing.unwrap();
    assert_eq!(
        (existing.dentry.dentry_id, existing.dentry.size),
        (first.dentry.dentry_id.clone(), 5)
    );
    let refused = upload(&w, &s, "a.txt", b"five", Some("RETURN_ERROR_IF_EXISTS")).await;
    assert_eq!(param_field(&refused.unwrap_err()), Some("name"));
    // Versions, kept files, and nothing for the refused or returned commits.
    assert_eq!(used(&w, &s).await, 3 + 3 + 5);
    let missing = w.drive.download_info(&w.op, &s, &first.dentry.dentry_id, Some(7), BASE).await;
    assert_eq!(param_field(&missing.unwrap_err()), Some("version"));
    // A commit must match what was announced and uploaded.
    let announced = PreCheck { md5: Some("0".repeat(32)), ..PreCheck::default() };
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(announced), BASE).await.unwrap();
    put_bytes(&w, &ticket.url, b"bytes", true).await.unwrap();
    let commit = |size: Option<i64>| CommitRequest {
        upload_key: Some(ticket.upload_key.clone()),
        name: Some("b.txt".into()),
        parent_id: Some("0".into()),
        size,
        ..CommitRequest::default()
    };
    let refused = w.drive.commit_file(&w.op, &s, commit(Some(4))).await.unwrap_err();
    assert_eq!(param_field(&refused), Some("size"));
    let refused = w.drive.commit_file(&w.op, &s, commit(None)).await.unwrap_err();
    assert_eq!(param_field(&refused), Some("md5"));
    assert_eq!(used(&w, &s).await, 11);
    assert_consistent(&w).await;
}

#[tokio::test]
async fn signed_urls_refuse_tampering_and_expiry() {
    let w = world().await;
    let s = space(&w, None).await;
    let ticket =
        w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE).await.unwrap();
    let signed = parse(&ticket.url);
    let mut forged = signed.signature.clone();
    forged.replace_range(0..1, if forged.starts_with('0') { "1" } else { "0" });
    let refused = w
        .drive
        .receive_blob(&signed.path, signed.expires, &forged, Some(1), body(&[b"x"]))
        .await
        .unwrap_err();
    assert!(matches!(refused, DriveError::SignatureRefused { expired: false, .. }), "{refused:?}");
    let later = w
        .drive
        .receive_blob(&signed.path, signed.expires + 60, &signed.signature, Some(1), body(&[b"x"]))
        .await
        .unwrap_err();
    assert!(matches!(later, DriveError::SignatureRefused { expired: false, .. }), "{later:?}");
    // A PUT URL does not open anything for reading.
    let read =
        w.drive.open_blob(&signed.path, signed.expires, "", Some(1), &signed.signature).await;
    assert!(matches!(read, Err(DriveError::SignatureRefused { .. })), "{read:?}");
    // URLs signed to have expired already.
    let mut expired = options();
    expired.signed_url_ttl_secs = -5;
    let old = drive_on(&w.dir, expired).await;
    let op = old.operator(Some(&w.token), None, Some("ann")).await.unwrap();
    let ticket =
        old.get_file_upload_info(&op, &s, single(PreCheck::default()), BASE).await.unwrap();
    let signed = parse(&ticket.url);
    let refused = old
        .receive_blob(&signed.path, signed.expires, &signed.signature, Some(1), body(&[b"x"]))
        .await
        .unwrap_err();
    assert!(matches!(refused, DriveError::SignatureRefused { expired: true, .. }), "{refused:?}");
}

#[tokio::test]
async fn open_uploads_are_capped_per_space() {
    let mut capped = options();
    capped.open_uploads.per_space = 2;
    let w = world_with(capped, None, &Scope::ALL).await;
    let s = space(&w, None).await;
    let open = || w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE);
    let first = open().await.unwrap();
    open().await.unwrap();
    let refused = open().await;
    assert!(matches!(refused, Err(DriveError::TooManyUploads(_))), "{refused:?}");
    // A commit closes its upload.
    put_bytes(&w, &first.url, b"x", true).await.unwrap();
    let commit = CommitRequest {
        upload_key: Some(first.upload_key),
        name: Some("x".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    open().await.unwrap();
}

#[tokio::test]
async fn expired_uploads_are_refused_then_swept_with_their_bytes() {
    let mut short = options();
    short.upload_ttl_secs = 1;
    let w = world_with(short, None, &Scope::ALL).await;
    let s = space(&w, Some(100)).await;
    let ticket =
        w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE).await.unwrap();
    put_bytes(&w, &ticket.url, b"abandoned", true).await.unwrap();
    assert_eq!(stored_objects(&w).await, 1);
    assert_eq!(w.drive.sweep_uploads().await.unwrap(), 0, "not expired yet");
    // Expired (1 s), then past the sweeper's grace (the upload lifetime, 1 s).
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let late = put_bytes(&w, &ticket.url, b"late", true).await.unwrap_err();
    assert_eq!(param_field(&late), Some("uploadKey"));
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key),
        name: Some("x".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    let refused = w.drive.commit_file(&w.op, &s, commit).await.unwrap_err();
    assert_eq!(param_field(&refused), Some("uploadKey"));
    assert_eq!(w.drive.sweep_uploads().await.unwrap(), 1);
    assert_eq!(stored_objects(&w).await, 0);
    assert_eq!(w.drive.sweep_uploads().await.unwrap(), 0);
    assert_eq!(used(&w, &s).await, 0);
    assert_consistent(&w).await;
}

/// GetDentry and ListDentries answers are reused only while nothing was
/// written: every write through the drive, a folder renamed above a file,
/// another app and another caller each get an answer of their own, and every
/// call is authorized, cached or not.
#[tokio::test]
async fn cached_answers_never_outlive_a_write_or_skip_authorization() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let w = world().await;
    let s = space(&w, None).await;
    let folder = |name: &str| NewFolder { name: Some(name.into()), ..NewFolder::default() };
    let dir = w.drive.add_folder(&w.op, &s, "0", folder("dir")).await.unwrap().dentry.dentry_id;
    let a = w.drive.add_folder(&w.op, &s, &dir, folder("a")).await.unwrap().dentry.dentry_id;
    let encoded = AtomicUsize::new(0);
    let list = |op: Operator| {
        let (s, dir, encoded) = (s.clone(), dir.clone(), &encoded);
        let drive = &w.drive;
        async move {
            let input = ListChildren {
                parent_id: Some(dir),
                order_by: Some("NAME".into()),
                order: Some("ASC".into()),
                ..ListChildren::default()
            };
            let page = drive.list_dentries_encoded(&op, &s, input, |page| {
                encoded.fetch_add(1, Ordering::SeqCst);
                let names: Vec<String> =
                    page.dentries.iter().map(|d| format!("{}={}", d.dentry.name, d.path)).collect();
                Ok(Bytes::from(names.join(",")))
            });
            page.await.map(|b| String::from_utf8(b.to_vec()).unwrap())
        }
    };
    let get = |op: Operator, id: String| {
        let (s, encoded) = (s.clone(), &encoded);
        let drive = &w.drive;
        async move {
            let all = PropertyFilter::default();
            let got = drive.get_dentry_encoded(&op, &s, &id, &all, |v| {
                encoded.fetch_add(1, Ordering::SeqCst);
                Ok(Bytes::from(v.path))
            });
            got.await.map(|b| String::from_utf8(b.to_vec()).unwrap())
        }
    };
    let count = || encoded.load(Ordering::SeqCst);
    assert_eq!(list(w.op.clone()).await.unwrap(), "a=/dir/a");
    assert_eq!(list(w.op.clone()).await.unwrap(), "a=/dir/a");
    assert_eq!(count(), 1, "the second listing is the first one's bytes");
    // A new child, a renamed child: seen at once.
    w.drive.add_folder(&w.op, &s, &dir, folder("b")).await.unwrap();
    assert_eq!(list(w.op.clone()).await.unwrap(), "a=/dir/a,b=/dir/b");
    w.drive.rename_dentry(&w.op, &s, &a, Some("c")).await.unwrap();
    assert_eq!(list(w.op.clone()).await.unwrap(), "b=/dir/b,c=/dir/c");
    assert_eq!(count(), 3);
    // GetDentry: cached, then the folder above renamed (the path changes).
    assert_eq!(get(w.op.clone(), a.clone()).await.unwrap(), "/dir/c");
    assert_eq!(get(w.op.clone(), a.clone()).await.unwrap(), "/dir/c");
    assert_eq!(count(), 4);
    w.drive.rename_dentry(&w.op, &s, &dir, Some("top")).await.unwrap();
    assert_eq!(get(w.op.clone(), a.clone()).await.unwrap(), "/top/c");
    assert_eq!(list(w.op.clone()).await.unwrap(), "b=/top/b,c=/top/c");
    // Deleted: not found, even though its answer was cached.
    assert_eq!(get(w.op.clone(), a.clone()).await.unwrap(), "/top/c");
    w.drive.delete_dentry(&w.op, &s, &a, false).await.unwrap();
    let gone = get(w.op.clone(), a.clone()).await.unwrap_err();
    assert!(matches!(gone, DriveError::NotFound { field: "dentryId", .. }), "{gone:?}");
    // Another user of the org, without a grant, is refused what is cached.
    let bob = NewUser { name: "Bob".into(), union_id: Some("bob".into()), ..NewUser::default() };
    w.drive.create_user(&w.corp_id, bob).await.unwrap();
    let bob = w.drive.operator(Some(&w.token), None, Some("bob")).await.unwrap();
    let refused = list(bob.clone()).await.unwrap_err();
    assert!(matches!(refused, DriveError::PermissionDenied(_)), "{refused:?}");
    // Another app of the org sees the same folder through an answer of its
    // own (app properties are shown per app).
    let second = NewApp {
        name: "Second".into(),
        scopes: Scope::ALL.iter().map(|s| s.as_str().to_string()).collect(),
        app_key: Some("second".into()),
        app_secret: Some(SECRET.into()),
    };
    w.drive.create_app(&w.corp_id, second).await.unwrap();
    let token = w.drive.issue_token("second", SECRET).await.unwrap().access_token;
    let other_app = w.drive.operator(Some(&token), None, Some("ann")).await.unwrap();
    let before = count();
    assert_eq!(list(w.op.clone()).await.unwrap(), "b=/top/b");
    assert_eq!(list(other_app).await.unwrap(), "b=/top/b");
    assert_eq!(count(), before + 2, "one answer per app");
}

/// The parts a commit copies for a manifest (`chunks/<name>/<n>`, the
/// manifest written once all are there) are judged together, as young as
/// the newest of them: a commit copying many parts for longer than fsck's
/// grace is still under way, and `fsck --repair` next to the live server
/// must not take its first copies (a review: it deleted them, and the file
/// then committed named missing parts). Parts that are all old, with no
/// manifest, go.
#[tokio::test]
async fn fsck_judges_a_manifests_parts_by_the_newest_of_them() {
    use orgdrive_core::Problem;
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let blob = BlobStore::filesystem(&dir.path().join("blobs"), false).unwrap();
    let drive = Drive::new(Arc::new(meta), blob, options()).await.unwrap();
    let put = |key: &'static str| {
        let bytes = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"part"))]);
        let blob = drive.blob().clone();
        async move { blob.write_stream(key, bytes, None, false).await.unwrap() }
    };
    put("chunks/copying/1").await;
    put("chunks/abandoned/1").await;
    put("chunks/copying/2").await;
    // Written an hour ago, but the second copy of the commit under way.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for old in ["chunks/copying/1", "chunks/abandoned/1"] {
        let path = dir.path().join("blobs").join(old);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(an_hour_ago).unwrap();
    }
    let report = drive.fsck(true, orgdrive_core::FSCK_GRACE_SECS).await.unwrap();
    let mut left: Vec<String> =
        drive.blob().list("chunks/").await.unwrap().into_iter().map(|o| o.key).collect();
    left.sort();
    assert_eq!(left, ["chunks/copying/1", "chunks/copying/2"]);
    let unreferenced = Problem::UnreferencedObject { key: "chunks/abandoned/1".into(), size: 4 };
    assert_eq!(report.problems, [unreferenced]);
    assert_eq!(report.repaired, 1);
}
