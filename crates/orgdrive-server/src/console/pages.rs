//! The console's pages, as maud templates: every value is escaped by the
//! template engine, every text comes from [`super::i18n`], and every form
//! that changes something carries the session's CSRF token.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup, DOCTYPE};
use std::collections::HashMap;

use orgdrive_core::{
    iso8601, task_kind, AppRecord, CallbackRecord, ConsoleCaller, DentryView, DeptRecord,
    OrgRecord, OrgUsage, Page, RecyclePage, Scope, SharedDentry, SpaceView, SubscriptionRecord,
    TaskRecord, Thumbnail, UsageParts, UserRecord,
};

use super::i18n::{Lang, Texts};
use crate::error::ApiError;

/// Files larger than this are uploaded in parts of this size (multipart),
/// so a dropped connection costs one part, not the file.
pub const UPLOAD_PART_SIZE: u64 = 8 * 1024 * 1024;

/// What a page shows of the signed-in session: its language, its CSRF
/// token (every form that changes something carries it) and who signed in.
pub struct Viewer<'a> {
    pub lang: Lang,
    pub csrf: &'a str,
    pub caller: &'a ConsoleCaller,
}

/// A folder page's place: which folder, its sort and page.
#[derive(serde::Deserialize, Default)]
pub struct FolderQuery {
    pub folder: Option<String>,
    pub order_by: Option<String>,
    pub order: Option<String>,
    pub next: Option<String>,
}

/// A page as a response: HTML, never cached (it shows a person's files).
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// What an operator's org page reports after an action.
pub enum Notice {
    AppCreated { app_key: String, app_secret: String },
    SecretRotated { app_key: String, app_secret: String },
    PasswordSet,
    DeptCreated,
    EventsChanged,
    MembersChanged,
}

/// A value for a URL's query or path.
pub fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A byte count for people: `1.5 MiB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn layout(lang: Lang, session: Option<&Viewer>, title: &str, body: Markup) -> Markup {
    let t = lang.texts();
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t.title) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header {
                    a.brand href="/console" { (t.title) }
                    nav {
                        @if let Some(session) = session {
                            @match session.caller {
                                ConsoleCaller::Person(op) => {
                                    a href="/console/spaces" { (t.spaces) }
                                    span.who { (t.signed_in_as) " " strong { (op.user.name) } }
                                }
                                ConsoleCaller::ServerOperator => {
                                    a href="/console/admin" { (t.orgs) }
                                    span.who { (t.signed_in_as) " " strong { (t.server_operator) } }
                                }
                            }
                        }
                        a.lang href={ "/console/lang/" (other.code()) } hreflang=(other.code()) {
                            (other.texts().language_name)
                        }
                        @if let Some(session) = session {
                            form.inline method="post" action="/console/sign-out" {
                                input type="hidden" name="csrf" value=(session.csrf);
                                button type="submit" { (t.sign_out) }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in page; the operators' form only where operators sign in.
pub fn sign_in(lang: Lang, operators: bool, error: Option<&str>) -> Markup {
    let t = lang.texts();
    layout(
        lang,
        None,
        t.sign_in,
        html! {
            h1 { (t.sign_in) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            div.cards {
                form.card method="post" action="/console/sign-in" id="sign-in-person" {
                    h2 { (t.person) }
                    input type="hidden" name="kind" value="person";
                    label { (t.union_id) input name="union_id" autocomplete="username" required; }
                    label { (t.password) input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { (t.sign_in) }
                }
                @if operators {
                    form.card method="post" action="/console/sign-in" id="sign-in-operator" {
                        h2 { (t.server_operator) }
                        input type="hidden" name="kind" value="operator";
                        label { (t.admin_token) input type="password" name="token" autocomplete="off" required; }
                        button type="submit" { (t.sign_in) }
                    }
                }
            }
        },
    )
}

/// A quota bar: used of the cap (or of nothing, without one), and when
/// known what the used bytes are made of: current files, kept versions and
/// the recycle bin, each a segment of the bar.
fn quota_bar(t: &Texts, used: i64, cap: Option<i64>, parts: Option<&UsageParts>) -> Markup {
    let share = |bytes: i64| {
        cap.filter(|c| *c > 0).map(|c| (bytes as f64 * 100.0 / c as f64).clamp(0.0, 100.0))
    };
    let (versions, recycled) = parts.map_or((0, 0), |p| (p.versions_bytes, p.recycled_bytes));
    let files = (used - versions - recycled).max(0);
    html! {
        div.quota {
            @if let Some(percent) = share(used) {
                div.bar role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{percent:.0}")) {
                    @if parts.is_some() {
                        @for (class, bytes) in [("fill", files), ("fill versions", versions), ("fill recycled", recycled)] {
                            div class=(class) style=(format!("width:{:.1}%", share(bytes).unwrap_or(0.0))) {}
                        }
                    } @else {
                        div.fill style=(format!("width:{percent:.1}%")) {}
                    }
                }
            }
            span.figures {
                (bytes(used)) " " (t.used) " " (t.of) " "
                @match cap { Some(cap) => (bytes(cap)), None => (t.unlimited) }
                @if parts.is_some() {
                    " · " span.part-files { (t.usage_files) " " (bytes(files)) }
                    " · " span.part-versions { (t.usage_versions) " " (bytes(versions)) }
                    " · " span.part-recycled { (t.usage_recycled) " " (bytes(recycled)) }
                }
            }
        }
    }
}

pub fn spaces(
    session: &Viewer,
    spaces: &[SpaceView],
    parts: &HashMap<String, UsageParts>,
    shared: &[SharedDentry],
) -> Markup {
    let t = session.lang.texts();
    layout(
        session.lang,
        Some(session),
        t.spaces,
        html! {
            h1 { (t.spaces) }
            @if spaces.is_empty() { p { (t.no_spaces) } }
            ul.spaces {
                @for view in spaces {
                    li {
                        a href={ "/console/spaces/" (view.space.space_id) } {
                            (view.space.name.as_deref().unwrap_or(&view.space.space_id))
                        }
                        (quota_bar(t, view.space.used_bytes, view.quota, parts.get(&view.space.space_id)))
                    }
                }
            }
            @if !shared.is_empty() {
                h2 { (t.shared_with_you) }
                table.entries #shared {
                    thead { tr { th { (t.name) } th { (t.space) } th { (t.role) } } }
                    tbody {
                        @for item in shared {
                            @let d = &item.dentry;
                            tr data-name=(d.name) {
                                td {
                                    @if d.kind == "FOLDER" {
                                        a.folder href={ "/console/spaces/" (enc(&d.space_id)) "?folder=" (enc(&d.dentry_id)) } { (d.name) "/" }
                                    } @else {
                                        a.file href={ "/console/spaces/" (enc(&d.space_id)) "/download/" (enc(&d.dentry_id)) } { (d.name) }
                                    }
                                }
                                td { (item.space_name) }
                                td { (item.role) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A link to this folder page sorted by `order_by`, toggling the direction
/// when it is already the sort.
fn sort_link(
    space_id: &str,
    folder_id: &str,
    query: &FolderQuery,
    order_by: &str,
    label: &str,
) -> Markup {
    let current = query.order_by.as_deref().unwrap_or("name");
    let ascending = query.order.as_deref().is_none_or(|o| !o.eq_ignore_ascii_case("desc"));
    let next_order = if current == order_by && ascending { "desc" } else { "asc" };
    let arrow = match (current == order_by, ascending) {
        (true, true) => " ▲",
        (true, false) => " ▼",
        _ => "",
    };
    html! {
        a href={ "/console/spaces/" (space_id) "?folder=" (folder_id) "&order_by=" (order_by) "&order=" (next_order) } {
            (label) (arrow)
        }
    }
}

/// A folder page. `space` is `None` for a person who holds a grant below
/// the root only (GetSpace refuses them): no quota, no recycle bin. Its
/// quota bar is the plain one (what used bytes are made of is read for the
/// spaces page only: it costs a pass over the store's kept versions).
pub fn folder(
    session: &Viewer,
    space: Option<&SpaceView>,
    here: &DentryView,
    page_of: &Page,
    thumbnails: &HashMap<String, Thumbnail>,
    query: &FolderQuery,
) -> Markup {
    let t = session.lang.texts();
    let space_id = &here.dentry.space_id;
    let folder_id = &here.dentry.dentry_id;
    let space_name = match space {
        Some(view) => view.space.name.as_deref().unwrap_or(space_id),
        None => &here.dentry.name,
    };
    let app_space = space.is_some_and(|view| view.space.owner_type == "APP");
    // The same sort (a page token belongs to its order), another page.
    let keep = |next: &str| {
        let mut url = format!("/console/spaces/{}?folder={}", enc(space_id), enc(folder_id));
        if let Some(order_by) = &query.order_by {
            url += &format!("&order_by={}", enc(order_by));
        }
        if let Some(order) = &query.order {
            url += &format!("&order={}", enc(order));
        }
        if !next.is_empty() {
            url += &format!("&next={}", enc(next));
        }
        url
    };
    layout(
        session.lang,
        Some(session),
        space_name,
        html! {
            h1 {
                @if space.is_some() { a href={ "/console/spaces/" (space_id) } { (space_name) } }
                @else { (space_name) }
            }
            @if let Some(view) = space {
                (quota_bar(t, view.space.used_bytes, view.quota, None))
            }
            p.path { (here.path) }
            div.toolbar {
                form.inline method="post" action={ "/console/spaces/" (space_id) "/folders" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="parent_id" value=(folder_id);
                    input name="name" placeholder=(t.new_folder) required;
                    button type="submit" { (t.create) }
                }
                // The bin and the search are the space's: not for a person
                // whose grant is below the root.
                @if space.is_some() {
                    a href={ "/console/spaces/" (space_id) "/bin" } { (t.recycle_bin) }
                    form.inline method="get" action={ "/console/spaces/" (space_id) "/search" } role="search" {
                        input name="q" placeholder=(t.search_names) aria-label=(t.search) required maxlength="100";
                        button type="submit" { (t.search) }
                    }
                }
            }
            details.share {
                summary { (t.share) " " (here.path) }
                form.inline method="post" action={ "/console/spaces/" (space_id) "/share" } #share {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="dentry_id" value=(folder_id);
                    input type="hidden" name="parent_id" value=(folder_id);
                    select name="member_type" aria-label=(t.member_user) {
                        option value="USER" { (t.member_user) }
                        option value="DEPT" { (t.member_dept) }
                        option value="ORG" { (t.member_org) }
                    }
                    input name="member_id" placeholder=(t.member_id) required;
                    select name="role_id" aria-label=(t.role) {
                        @for role in ["READER", "DOWNLOADER", "EDITOR", "MANAGER", "OWNER"] {
                            option value=(role) { (role) }
                        }
                    }
                    @if app_space {
                        input name="duration" placeholder=(t.duration_secs) inputmode="numeric";
                    }
                    button type="submit" { (t.share) }
                }
            }
            div #upload data-space=(space_id) data-parent=(folder_id) data-csrf=(session.csrf)
                data-part-size=(UPLOAD_PART_SIZE)
                data-uploading=(t.uploading) data-done=(t.upload_done) data-failed=(t.upload_failed)
                data-retrying=(t.upload_retrying) {
                p {
                    strong { (t.upload) } " · " (t.upload_hint) " "
                    input #upload-input type="file" multiple;
                    " " (t.upload_folder_hint) " "
                    input #upload-folder-input type="file" webkitdirectory;
                }
                div #upload-overall hidden {
                    span { (t.overall) } progress #overall-progress max="100" value="0" {}
                }
                ul #upload-list {}
            }
            @if page_of.dentries.is_empty() && query.next.is_none() {
                p.empty { (t.empty_folder) }
            } @else {
                table.entries {
                    thead { tr {
                        th { (sort_link(space_id, folder_id, query, "name", t.name)) }
                        th { (sort_link(space_id, folder_id, query, "size", t.size)) }
                        th { (sort_link(space_id, folder_id, query, "modified_time", t.modified)) }
                        th { (t.actions) }
                    } }
                    tbody {
                        @for entry in &page_of.dentries {
                            @let d = &entry.dentry;
                            tr data-name=(d.name) {
                                td {
                                    @if d.is_folder() {
                                        a.folder href={ "/console/spaces/" (space_id) "?folder=" (d.dentry_id) } { (d.name) "/" }
                                    } @else {
                                        a.file href={ "/console/spaces/" (space_id) "/download/" (d.dentry_id) } {
                                            @if let Some(thumb) = thumbnails.get(&d.dentry_id) {
                                                img.thumbnail src=(thumb.url.url) width=(thumb.width.min(48)) alt="" loading="lazy";
                                                " "
                                            }
                                            (d.name)
                                        }
                                    }
                                }
                                td.size { @if !d.is_folder() { (bytes(d.size)) } }
                                td { (iso8601(d.modified_at)) }
                                td.actions {
                                    @if !d.is_folder() {
                                        a.download href={ "/console/spaces/" (space_id) "/download/" (d.dentry_id) } { (t.download) }
                                        a.preview href={ "/console/spaces/" (space_id) "/preview/" (d.dentry_id) } target="_blank" rel="noopener" { (t.preview) }
                                        a.versions href={ "/console/spaces/" (space_id) "/versions/" (d.dentry_id) } { (t.versions) }
                                    }
                                    form.inline.rename method="post" action={ "/console/spaces/" (space_id) "/rename" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="dentry_id" value=(d.dentry_id);
                                        input type="hidden" name="parent_id" value=(folder_id);
                                        input name="new_name" value=(d.name) aria-label=(t.rename) required;
                                        button type="submit" { (t.rename) }
                                    }
                                    details.relocate {
                                        summary { (t.move_or_copy) }
                                        a.pick href={ "/console/spaces/" (space_id) "/pick/" (d.dentry_id) "?how=move&at=" (enc(folder_id)) } { (t.choose_folder) }
                                        " "
                                        form.inline method="post" action={ "/console/spaces/" (space_id) "/relocate" } {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="dentry_id" value=(d.dentry_id);
                                            select name="how" aria-label=(t.move_or_copy) {
                                                option value="move" { (t.move_to) }
                                                option value="copy" { (t.copy_to) }
                                            }
                                            input name="target_space_id" value=(space_id) aria-label=(t.space_id) size="8";
                                            input name="target_folder_id" value=(folder_id) aria-label=(t.folder_id) size="8";
                                            button type="submit" { "OK" }
                                        }
                                    }
                                    form.inline.delete method="post" action={ "/console/spaces/" (space_id) "/delete" }
                                        data-confirm=(t.confirm_delete) {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="dentry_id" value=(d.dentry_id);
                                        input type="hidden" name="parent_id" value=(folder_id);
                                        button type="submit" { (t.delete) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav.pages {
                @if query.next.is_some() { a href=(keep("")) { (t.first_page) } }
                @if let Some(next) = &page_of.next_token {
                    a.next href=(keep(next)) { (t.next_page) }
                }
            }
            script src="/console/assets/console.js" defer {}
        },
    )
}

pub fn recycle_bin(session: &Viewer, space_id: &str, items: &RecyclePage) -> Markup {
    let t = session.lang.texts();
    layout(
        session.lang,
        Some(session),
        t.recycle_bin,
        html! {
            h1 { (t.recycle_bin) }
            p { a href={ "/console/spaces/" (space_id) } { (t.back) } }
            @if items.items.is_empty() { p.empty { (t.empty_bin) } }
            @else {
                table.entries {
                    thead { tr { th { (t.name) } th { (t.size) } th { (t.deleted_at) } th { (t.actions) } } }
                    tbody {
                        @for item in &items.items {
                            tr data-name=(item.name) {
                                td { (item.path) }
                                td.size { (bytes(item.size)) }
                                td { (iso8601(item.deleted_at)) }
                                td.actions {
                                    form.inline.restore method="post" action={ "/console/spaces/" (space_id) "/bin/restore" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="recycle_item_id" value=(item.recycle_item_id);
                                        button type="submit" { (t.restore) }
                                    }
                                    form.inline.purge method="post" action={ "/console/spaces/" (space_id) "/bin/purge" }
                                        data-confirm=(t.confirm_purge) {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="recycle_item_id" value=(item.recycle_item_id);
                                        button type="submit" { (t.purge) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &items.next_token {
                nav.pages { a.next href={ "/console/spaces/" (space_id) "/bin?next=" (enc(next)) } { (t.next_page) } }
            }
            script src="/console/assets/console.js" defer {}
        },
    )
}

pub fn versions(session: &Viewer, space_id: &str, file: &DentryView, versions: &Page) -> Markup {
    let t = session.lang.texts();
    let d = &file.dentry;
    layout(
        session.lang,
        Some(session),
        t.versions,
        html! {
            h1 { (t.versions) " · " (d.name) }
            p.path { (file.path) " · " (t.version) " " (d.version) " · " (bytes(d.size)) }
            p { a href={ "/console/spaces/" (space_id) "?folder=" (d.parent_id) } { (t.back) } }
            @if versions.dentries.is_empty() { p.empty { (t.no_versions) } }
            @else {
                table.entries #versions {
                    thead { tr { th { (t.version) } th { (t.size) } th { (t.modified) } th { (t.actions) } } }
                    tbody {
                        @for old in &versions.dentries {
                            @let v = &old.dentry;
                            tr data-version=(v.version) {
                                td { (v.version) }
                                td.size { (bytes(v.size)) }
                                td { (iso8601(v.modified_at)) }
                                td.actions {
                                    a.download href={ "/console/spaces/" (space_id) "/download/" (d.dentry_id) "?version=" (v.version) } { (t.download) }
                                    form.inline.revert method="post" action={ "/console/spaces/" (space_id) "/versions/" (d.dentry_id) } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="version" value=(v.version);
                                        button type="submit" { (t.revert) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &versions.next_token {
                nav.pages { a.next href={ "/console/spaces/" (space_id) "/versions/" (d.dentry_id) "?next=" (enc(next)) } { (t.next_page) } }
            }
        },
    )
}

pub fn search(session: &Viewer, space_id: &str, text: &str, found: &[DentryView]) -> Markup {
    let t = session.lang.texts();
    layout(
        session.lang,
        Some(session),
        t.search,
        html! {
            h1 { (t.search) ": " (text) }
            p { a href={ "/console/spaces/" (space_id) } { (t.back) } }
            @if found.is_empty() { p.empty { (t.nothing_found) } }
            @else {
                table.entries #found {
                    thead { tr { th { (t.name) } th { (t.size) } th { (t.modified) } } }
                    tbody {
                        @for entry in found {
                            @let d = &entry.dentry;
                            tr data-name=(d.name) {
                                td {
                                    @if d.is_folder() {
                                        a.folder href={ "/console/spaces/" (space_id) "?folder=" (d.dentry_id) } { (entry.path) "/" }
                                    } @else {
                                        a.file href={ "/console/spaces/" (space_id) "/download/" (d.dentry_id) } { (entry.path) }
                                    }
                                }
                                td.size { @if !d.is_folder() { (bytes(d.size)) } }
                                td { (iso8601(d.modified_at)) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The target picker of a move or copy (see `pick_target`).
pub fn pick_target(
    session: &Viewer,
    entry: &DentryView,
    spaces: &[SpaceView],
    here: &DentryView,
    page_of: &Page,
    query: &super::PickQuery,
) -> Markup {
    let t = session.lang.texts();
    let from_space = &entry.dentry.space_id;
    let browsed = &here.dentry.space_id;
    let how = if query.how == "copy" { "copy" } else { "move" };
    let other = if how == "copy" { "move" } else { "copy" };
    let url = |how: &str, space: &str, at: &str, next: Option<&str>| {
        let mut url = format!(
            "/console/spaces/{}/pick/{}?how={how}&space={}&at={}",
            enc(from_space),
            enc(&entry.dentry.dentry_id),
            enc(space),
            enc(at)
        );
        if let Some(next) = next {
            url += &format!("&next={}", enc(next));
        }
        url
    };
    let title = if how == "copy" { t.copy_to } else { t.move_to };
    layout(
        session.lang,
        Some(session),
        title,
        html! {
            h1 { (title) ": " (entry.path) }
            p {
                a href={ "/console/spaces/" (enc(from_space)) "?folder=" (enc(&entry.dentry.parent_id)) } { (t.back) }
                " · "
                a.switch href=(url(other, browsed, &here.dentry.dentry_id, None)) {
                    (if other == "copy" { t.copy_to } else { t.move_to })
                }
            }
            nav.spaces {
                @for view in spaces {
                    a href=(url(how, &view.space.space_id, "0", None)) {
                        @if &view.space.space_id == browsed { strong { (view.space.name.as_deref().unwrap_or(&view.space.space_id)) } }
                        @else { (view.space.name.as_deref().unwrap_or(&view.space.space_id)) }
                    }
                    " "
                }
            }
            p.path #browsed { (here.path) }
            form.inline method="post" action={ "/console/spaces/" (enc(from_space)) "/relocate" } #pick-here {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="dentry_id" value=(entry.dentry.dentry_id);
                input type="hidden" name="how" value=(how);
                input type="hidden" name="target_space_id" value=(browsed);
                input type="hidden" name="target_folder_id" value=(here.dentry.dentry_id);
                button type="submit" { (title) " " (here.path) }
            }
            ul.folders {
                @if here.dentry.dentry_id != "0" {
                    li { a.up href=(url(how, browsed, &here.dentry.parent_id, None)) { "../" } }
                }
                // Not into itself: a folder cannot go below itself.
                @for child in page_of.dentries.iter().filter(|c| c.dentry.is_folder() && c.dentry.dentry_id != entry.dentry.dentry_id) {
                    li data-name=(child.dentry.name) {
                        a.folder href=(url(how, browsed, &child.dentry.dentry_id, None)) { (child.dentry.name) "/" }
                    }
                }
            }
            @if let Some(next) = &page_of.next_token {
                nav.pages { a.next href=(url(how, browsed, &here.dentry.dentry_id, Some(next))) { (t.next_page) } }
            }
        },
    )
}

/// A link that leads away from orgdrive (a preview an app registered),
/// shown with its host rather than followed.
pub fn elsewhere(session: &Viewer, url: &str) -> Markup {
    let t = session.lang.texts();
    let host =
        url.split_once("://").map_or(url, |(_, rest)| rest.split('/').next().unwrap_or(rest));
    layout(
        session.lang,
        Some(session),
        t.preview,
        html! {
            h1 { (t.preview) }
            p { (t.opens_elsewhere) " " strong #host { (host) } }
            p { a href=(url) rel="noopener noreferrer" { (url) } }
        },
    )
}

/// A task's progress (its handler makes the browser reload it until it ends).
pub fn task(session: &Viewer, task: &TaskRecord) -> Markup {
    let t = session.lang.texts();
    let done = task.success_count + task.fail_count;
    let percent = if task.total_count > 0 { done * 100 / task.total_count } else { 0 };
    layout(
        session.lang,
        Some(session),
        t.task,
        html! {
            h1 { (t.task) " " code { (task.task_id) } }
            p #task-status data-status=(task.status.as_str()) { (task.status.as_str()) }
            progress max="100" value=(percent) {}
            p { (done) " / " (task.total_count) }
            @if let Some(message) = &task.fail_message { p.error { (message) } }
            p { a href="/console/spaces" { (t.back) } }
        },
    )
}

pub fn admin_orgs(
    session: &Viewer,
    orgs: &[OrgRecord],
    tasks: &[TaskRecord],
    ready: bool,
) -> Markup {
    let t = session.lang.texts();
    layout(
        session.lang,
        Some(session),
        t.orgs,
        html! {
            h1 { (t.orgs) }
            p.health { (t.health) ": " @if ready { span.ok { (t.ready) } } @else { span.error { (t.not_ready) } } }
            p { a #journal-link href="/console/admin/journal" { (t.journal) } }
            table.entries {
                thead { tr { th { (t.org) } th { "corpId" } th { (t.capacity) } } }
                tbody {
                    @for org in orgs {
                        tr {
                            td { a href={ "/console/admin/orgs/" (org.corp_id) } { (org.name) } }
                            td { code { (org.corp_id) } }
                            td { @match org.capacity { Some(c) => (bytes(c)), None => (t.unlimited) } }
                        }
                    }
                }
            }
            h2 { (t.tasks) }
            @if tasks.is_empty() { p.empty { (t.no_tasks) } }
            @else {
                table.entries #tasks {
                    thead { tr { th { (t.task) } th { (t.org) } th { (t.kind) } th { "status" } th { (t.progress) } th { (t.created) } } }
                    tbody {
                        @for task in tasks {
                            tr {
                                td { code { (task.task_id) } }
                                td { code { (task.corp_id) } }
                                td { (task_kind(task)) }
                                td { (task.status.as_str()) }
                                td { (task.success_count + task.fail_count) " / " (task.total_count) }
                                td { (iso8601(task.created_at)) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The request journal (`None`: it is off), newest first, with each
/// entry's appKey.
pub fn admin_journal(
    session: &Viewer,
    entries: Option<&[(crate::journal::Entry, Option<String>)]>,
) -> Markup {
    let t = session.lang.texts();
    layout(
        session.lang,
        Some(session),
        t.journal,
        html! {
            h1 { (t.journal) }
            @match entries {
                None => p.empty { (t.journal_off) },
                Some([]) => p.empty { (t.no_requests) },
                Some(entries) => table.entries #journal {
                    thead { tr {
                        th { (t.created) } th { "operation" } th { "path" } th { "status" }
                        th { "code" } th { (t.latency) } th { "appKey" } th { "unionId" } th { "requestId" }
                    } }
                    tbody {
                        @for (entry, app_key) in entries {
                            tr.error[entry.status >= 400] {
                                td { (iso8601(entry.at_ms)) }
                                td { (entry.operation) }
                                td { code { (entry.method) " " (entry.path) } }
                                td { (entry.status) }
                                td { @if let Some(code) = &entry.code { code { (code) } } }
                                td { (format!("{:.1} ms", entry.latency_us as f64 / 1000.0)) }
                                td { @if let Some(key) = app_key { code { (key) } } }
                                td { @if let Some(u) = &entry.union_id { code { (u) } } }
                                td { code { (entry.request_id) } }
                            }
                        }
                    }
                },
            }
        },
    )
}

/// What an operator's page of an org shows.
pub struct OrgPage {
    pub org: OrgRecord,
    pub apps: Vec<AppRecord>,
    pub users: Vec<UserRecord>,
    pub depts: Vec<DeptRecord>,
    /// Per department (in `depts`' order): its members.
    pub members: Vec<Vec<UserRecord>>,
    pub usage: OrgUsage,
    /// Per app (in `apps`' order): its event subscriptions and callback.
    pub events: Vec<AppEvents>,
}

/// An app's event subscriptions and HTTP callback (never its secrets).
pub struct AppEvents {
    pub subscriptions: Vec<SubscriptionRecord>,
    pub callback: Option<CallbackRecord>,
}

pub fn admin_org(session: &Viewer, page: &OrgPage, notice: Option<&Notice>) -> Markup {
    let t = session.lang.texts();
    let OrgPage { org, apps, users, depts, members, usage, events } = page;
    let base = format!("/console/admin/orgs/{}", org.corp_id);
    // A one-button form of an action on this page.
    let button = |action: &str, fields: &[(&str, &str)], label: &str, confirm: Option<&str>| {
        html! {
            form.inline method="post" action=(base) data-confirm=[confirm] {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value=(action);
                @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
                button type="submit" { (label) }
            }
        }
    };
    // The usage chart: each space's bar against the largest space's.
    let largest = usage.spaces.iter().map(|v| v.space.used_bytes).max().unwrap_or(0).max(1);
    layout(
        session.lang,
        Some(session),
        &org.name,
        html! {
            h1 { (org.name) " " small { code { (org.corp_id) } } }
            @match notice {
                Some(Notice::AppCreated { app_key, app_secret }) => {
                    div.notice #created-app role="status" {
                        h2 { (t.app_created) }
                        p { (t.secret_once) }
                        dl { dt { "appKey" } dd { code #app-key { (app_key) } } dt { "appSecret" } dd { code #app-secret { (app_secret) } } }
                    }
                }
                Some(Notice::SecretRotated { app_key, app_secret }) => {
                    div.notice #rotated-secret role="status" {
                        h2 { (t.secret_rotated) }
                        p { (t.secret_once) }
                        dl { dt { "appKey" } dd { code #app-key { (app_key) } } dt { "appSecret" } dd { code #app-secret { (app_secret) } } }
                    }
                }
                Some(Notice::PasswordSet) => { p.notice role="status" { (t.password_set) } }
                Some(Notice::DeptCreated) => { p.notice role="status" { (t.dept_created) } }
                Some(Notice::EventsChanged) => { p.notice role="status" { (t.events_changed) } }
                Some(Notice::MembersChanged) => { p.notice role="status" { (t.members_changed) } }
                None => {}
            }
            h2 { (t.capacity) }
            (quota_bar(t, usage.used_bytes, usage.capacity, None))
            h2 { (t.space_usage) }
            table.entries.chart #space-usage {
                thead { tr { th { (t.spaces) } th { (t.used) } th {} } }
                tbody {
                    @for view in &usage.spaces {
                        @let percent = view.space.used_bytes as f64 * 100.0 / largest as f64;
                        tr {
                            td { (view.space.name.as_deref().unwrap_or(&view.space.space_id)) " " small { code { (view.space.space_id) } } }
                            td.size { (bytes(view.space.used_bytes)) }
                            td { div.bar.wide { div.fill style=(format!("width:{percent:.1}%")) {} } }
                        }
                    }
                }
            }
            h2 { (t.apps) }
            table.entries #apps {
                thead { tr { th { (t.name) } th { "appKey" } th { (t.scopes) } th {} } }
                tbody {
                    @for app in apps {
                        tr data-app=(app.app_id) {
                            td { (app.name) } td { code { (app.app_key) } }
                            td.scopes { @for scope in &app.scopes { code { (scope) } " " } }
                            td { (button("rotate_secret", &[("app_id", &app.app_id)], t.rotate_secret, Some(t.confirm_rotate))) }
                        }
                    }
                }
            }
            h2 { (t.events) }
            table.entries #events {
                thead { tr { th { (t.apps) } th { (t.subscriptions) } th { (t.callback) } } }
                tbody {
                    @for (app, app_events) in apps.iter().zip(events) {
                        tr data-app=(app.app_id) {
                            td { (app.name) }
                            td {
                                @for sub in &app_events.subscriptions {
                                    div.subscription {
                                        code { (sub.scope.as_str()) ":" (sub.scope_id) } " "
                                        (button("unsubscribe", &[("app_id", &app.app_id), ("scope", sub.scope.as_str()), ("scope_id", &sub.scope_id)], t.unsubscribe, None))
                                    }
                                }
                                form.inline.subscribe method="post" action=(base) {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="action" value="subscribe";
                                    input type="hidden" name="app_id" value=(app.app_id);
                                    select name="scope" aria-label="scope" { option value="ORG" { "ORG" } option value="SPACE" { "SPACE" } }
                                    input name="scope_id" placeholder=(t.scope_id_hint) aria-label=(t.scope_id_hint);
                                    input name="union_id" placeholder=(t.as_user) aria-label=(t.as_user) required;
                                    button type="submit" { (t.subscribe) }
                                }
                            }
                            td {
                                @if let Some(callback) = &app_events.callback {
                                    code { (callback.url) } " "
                                    (button("remove_callback", &[("app_id", &app.app_id)], t.remove_callback, None))
                                }
                                form.inline.callback method="post" action=(base) {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="action" value="set_callback";
                                    input type="hidden" name="app_id" value=(app.app_id);
                                    input name="url" type="url" placeholder="http://…" aria-label="url" required;
                                    input name="token" placeholder="token" aria-label="token" autocomplete="off" required;
                                    input name="aes_key" placeholder="aesKey" aria-label="aesKey" autocomplete="off" required minlength="43" maxlength="43";
                                    button type="submit" { (t.set_callback) }
                                }
                            }
                        }
                    }
                }
            }
            form.inline method="post" action=(base) #create-app {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="create_app";
                input name="name" placeholder=(t.name) required;
                fieldset.scopes {
                    legend { (t.scopes) }
                    @for scope in Scope::ALL {
                        label.scope { input type="checkbox" name=(super::operators::scope_field(scope)) checked; code { (scope.as_str()) } }
                    }
                }
                button type="submit" { (t.create_app) }
            }
            h2 { (t.users) }
            table.entries #users {
                thead { tr { th { (t.name) } th { "unionId" } th {} } }
                tbody {
                    @for user in users {
                        tr { td { (user.name) } td { code { (user.union_id) } } td { @if user.org_admin { (t.org_admin) } } }
                    }
                }
            }
            h2 { (t.depts) }
            table.entries #depts {
                thead { tr { th { (t.name) } th { "deptId" } th { (t.parent) } th { (t.members) } } }
                tbody {
                    @for (dept, people) in depts.iter().zip(members) {
                        tr data-dept=(dept.dept_id) {
                            td { (dept.name) } td { code { (dept.dept_id) } }
                            td { @if let Some(parent) = &dept.parent_id { code { (parent) } } }
                            td {
                                @for person in people {
                                    div.member {
                                        (person.name) " " code { (person.union_id) } " "
                                        (button("remove_member", &[("dept_id", &dept.dept_id), ("union_id", &person.union_id)], t.remove, None))
                                    }
                                }
                                form.inline.add-member method="post" action=(base) {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="action" value="add_member";
                                    input type="hidden" name="dept_id" value=(dept.dept_id);
                                    input name="union_id" placeholder="unionId" aria-label="unionId" required;
                                    button type="submit" { (t.add_member) }
                                }
                            }
                        }
                    }
                }
            }
            form.inline method="post" action=(base) #create-dept {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="create_dept";
                input name="name" placeholder=(t.name) required;
                input name="parent_id" placeholder=(t.parent) aria-label=(t.parent);
                button type="submit" { (t.create_dept) }
            }
            h2 { (t.set_password) }
            form.inline method="post" action=(base) #set-password {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="set_password";
                input name="union_id" placeholder="unionId" required;
                input type="password" name="password" placeholder=(t.password) autocomplete="new-password" required;
                button type="submit" { (t.set_password) }
            }
        },
    )
}

/// A failed action: the API's error code and message, with its status.
pub fn error(lang: Lang, session: Option<&Viewer>, error: &ApiError) -> Response {
    let t = lang.texts();
    let status =
        if error.status == StatusCode::OK { StatusCode::BAD_REQUEST } else { error.status };
    respond(
        status,
        layout(
            lang,
            session,
            t.error,
            html! {
                h1 { (t.error) }
                p.error role="alert" { code { (error.code) } " " (error.message) }
                p { a href="/console" { (t.back) } }
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(20 << 20), "20.0 MiB");
    }

    #[test]
    fn values_are_escaped() {
        let markup = sign_in(Lang::En, true, Some("<script>alert(1)</script>")).into_string();
        assert!(!markup.contains("<script>alert"), "{markup}");
        assert!(markup.contains("&lt;script&gt;"));
    }
}
