//! The console's two languages: every text of its pages, once in English
//! and once in Simplified Chinese ([`Texts`]: a page cannot use a text that
//! one language lacks), and how a request picks one: the `lang` cookie set
//! by the switch, else the browser's `Accept-Language`.

use axum::http::HeaderMap;

use super::cookies::{cookie, LANG_COOKIE};

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The `lang` attribute and cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        let primary = raw.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The request's language: its `lang` cookie, else the first language
    /// of `Accept-Language` the console speaks (by weight), else English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        let accepted = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut best: Option<(f32, Lang)> = None;
        for item in accepted.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else { continue };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// Every text of the console, in one language.
pub struct Texts {
    pub language_name: &'static str,
    pub title: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub person: &'static str,
    pub server_operator: &'static str,
    pub union_id: &'static str,
    pub password: &'static str,
    pub admin_token: &'static str,
    pub sign_in_failed: &'static str,
    pub too_many_attempts: &'static str,
    pub signed_in_as: &'static str,
    pub spaces: &'static str,
    pub no_spaces: &'static str,
    pub used: &'static str,
    pub of: &'static str,
    pub unlimited: &'static str,
    pub name: &'static str,
    pub size: &'static str,
    pub modified: &'static str,
    pub actions: &'static str,
    pub empty_folder: &'static str,
    pub next_page: &'static str,
    pub first_page: &'static str,
    pub download: &'static str,
    pub rename: &'static str,
    pub delete: &'static str,
    pub new_folder: &'static str,
    pub create: &'static str,
    pub upload: &'static str,
    pub upload_hint: &'static str,
    pub uploading: &'static str,
    pub upload_done: &'static str,
    pub upload_failed: &'static str,
    pub upload_retrying: &'static str,
    pub usage_files: &'static str,
    pub usage_versions: &'static str,
    pub usage_recycled: &'static str,
    pub shared_with_you: &'static str,
    pub space: &'static str,
    pub upload_folder_hint: &'static str,
    pub overall: &'static str,
    pub recycle_bin: &'static str,
    pub restore: &'static str,
    pub empty_bin: &'static str,
    pub deleted_at: &'static str,
    pub confirm_delete: &'static str,
    pub error: &'static str,
    pub back: &'static str,
    pub orgs: &'static str,
    pub org: &'static str,
    pub capacity: &'static str,
    pub apps: &'static str,
    pub users: &'static str,
    pub scopes: &'static str,
    pub create_app: &'static str,
    pub app_created: &'static str,
    pub secret_once: &'static str,
    pub set_password: &'static str,
    pub password_set: &'static str,
    pub org_admin: &'static str,
    pub health: &'static str,
    pub share: &'static str,
    pub versions: &'static str,
    pub move_or_copy: &'static str,
    pub choose_folder: &'static str,
    pub move_to: &'static str,
    pub copy_to: &'static str,
    pub space_id: &'static str,
    pub folder_id: &'static str,
    pub task: &'static str,
    pub search: &'static str,
    pub search_names: &'static str,
    pub nothing_found: &'static str,
    pub tasks: &'static str,
    pub no_tasks: &'static str,
    pub journal: &'static str,
    pub journal_off: &'static str,
    pub no_requests: &'static str,
    pub latency: &'static str,
    pub kind: &'static str,
    pub progress: &'static str,
    pub created: &'static str,
    pub space_usage: &'static str,
    pub depts: &'static str,
    pub create_dept: &'static str,
    pub dept_created: &'static str,
    pub rotate_secret: &'static str,
    pub confirm_rotate: &'static str,
    pub secret_rotated: &'static str,
    pub events_changed: &'static str,
    pub subscribe: &'static str,
    pub unsubscribe: &'static str,
    pub as_user: &'static str,
    pub scope_id_hint: &'static str,
    pub set_callback: &'static str,
    pub remove_callback: &'static str,
    pub members: &'static str,
    pub add_member: &'static str,
    pub remove: &'static str,
    pub members_changed: &'static str,
    pub events: &'static str,
    pub subscriptions: &'static str,
    pub callback: &'static str,
    pub parent: &'static str,
    pub preview: &'static str,
    pub opens_elsewhere: &'static str,
    pub version: &'static str,
    pub revert: &'static str,
    pub no_versions: &'static str,
    pub purge: &'static str,
    pub confirm_purge: &'static str,
    pub member_id: &'static str,
    pub role: &'static str,
    pub duration_secs: &'static str,
    pub member_user: &'static str,
    pub member_dept: &'static str,
    pub member_org: &'static str,
    pub ready: &'static str,
    pub not_ready: &'static str,
}

static EN: Texts = Texts {
    language_name: "English",
    title: "orgdrive console",
    sign_in: "Sign in",
    sign_out: "Sign out",
    person: "Person",
    server_operator: "Operator",
    union_id: "unionId",
    password: "Password",
    admin_token: "Admin token",
    sign_in_failed: "Unknown user or wrong password.",
    too_many_attempts: "Too many failed sign-ins. Wait a minute and try again.",
    signed_in_as: "Signed in as",
    spaces: "Spaces",
    no_spaces: "You have no spaces yet.",
    used: "used",
    of: "of",
    unlimited: "no limit",
    name: "Name",
    size: "Size",
    modified: "Modified",
    actions: "Actions",
    empty_folder: "This folder is empty.",
    next_page: "Next page",
    first_page: "First page",
    download: "Download",
    rename: "Rename",
    delete: "Delete",
    new_folder: "New folder",
    create: "Create",
    upload: "Upload",
    upload_hint: "Drop files or folders here, or choose files:",
    upload_folder_hint: "or a folder:",
    upload_retrying: "Connection lost, retrying",
    usage_files: "files",
    usage_versions: "versions",
    usage_recycled: "recycle bin",
    shared_with_you: "Shared with you",
    space: "Space",
    uploading: "Uploading",
    upload_done: "Uploaded",
    upload_failed: "Upload failed",
    overall: "Overall",
    recycle_bin: "Recycle bin",
    restore: "Restore",
    empty_bin: "The recycle bin is empty.",
    deleted_at: "Deleted",
    confirm_delete: "Move to the recycle bin?",
    error: "Error",
    back: "Back",
    orgs: "Organizations",
    org: "Organization",
    capacity: "Capacity",
    apps: "Apps",
    users: "Users",
    scopes: "Scopes",
    create_app: "Create app",
    app_created: "App created",
    secret_once: "Copy the appSecret now: it is shown only once.",
    set_password: "Set console password",
    password_set: "Password set; the user's sessions have ended.",
    org_admin: "org admin",
    health: "Health",
    share: "Share",
    versions: "Versions",
    move_or_copy: "Move or copy",
    choose_folder: "Choose a folder…",
    move_to: "Move to",
    copy_to: "Copy to",
    space_id: "space id",
    folder_id: "folder id (0 = the root)",
    task: "Task",
    search: "Search",
    search_names: "Name contains…",
    nothing_found: "Nothing found.",
    tasks: "Background tasks",
    no_tasks: "No task is running.",
    journal: "Request journal",
    journal_off: "The request journal is off: start the server with --journal N (or --ephemeral).",
    no_requests: "No request yet.",
    latency: "Latency",
    kind: "Kind",
    progress: "Progress",
    created: "Created",
    space_usage: "Usage by space",
    depts: "Departments",
    create_dept: "Create department",
    dept_created: "Department created.",
    rotate_secret: "Rotate secret",
    confirm_rotate:
        "Rotate this app's secret? Its access tokens end now and the old secret stops working.",
    secret_rotated: "New appSecret",
    events_changed: "Event settings saved.",
    subscribe: "Subscribe",
    unsubscribe: "Unsubscribe",
    as_user: "as user (unionId)",
    scope_id_hint: "space id (SPACE)",
    set_callback: "Set callback",
    remove_callback: "Remove callback",
    members: "Members",
    add_member: "Add member",
    remove: "Remove",
    members_changed: "Department members saved.",
    events: "Events",
    subscriptions: "Subscriptions",
    callback: "HTTP callback",
    parent: "Parent",
    preview: "Preview",
    opens_elsewhere: "This file opens on another site:",
    version: "Version",
    revert: "Make current",
    no_versions: "No earlier versions.",
    purge: "Delete for good",
    confirm_purge: "Delete for good? This cannot be undone.",
    member_id: "unionId, deptId or corpId",
    role: "Role",
    duration_secs: "seconds (APP spaces; empty = permanent)",
    member_user: "User",
    member_dept: "Department",
    member_org: "Whole organization",
    ready: "ready",
    not_ready: "not ready",
};

static ZH: Texts = Texts {
    language_name: "简体中文",
    title: "orgdrive 控制台",
    sign_in: "登录",
    sign_out: "退出登录",
    person: "成员",
    server_operator: "运维管理员",
    union_id: "unionId",
    password: "密码",
    admin_token: "管理令牌",
    sign_in_failed: "用户不存在或密码错误。",
    too_many_attempts: "登录失败次数过多，请一分钟后再试。",
    signed_in_as: "当前用户",
    spaces: "存储空间",
    no_spaces: "你还没有存储空间。",
    used: "已用",
    of: "共",
    unlimited: "不限",
    name: "名称",
    size: "大小",
    modified: "修改时间",
    actions: "操作",
    empty_folder: "此文件夹为空。",
    next_page: "下一页",
    first_page: "第一页",
    download: "下载",
    rename: "重命名",
    delete: "删除",
    new_folder: "新建文件夹",
    create: "创建",
    upload: "上传",
    upload_hint: "将文件或文件夹拖到这里，或选择文件：",
    upload_folder_hint: "或选择文件夹：",
    upload_retrying: "连接中断，正在重试",
    usage_files: "文件",
    usage_versions: "历史版本",
    usage_recycled: "回收站",
    shared_with_you: "共享给我的",
    space: "空间",
    uploading: "正在上传",
    upload_done: "已上传",
    upload_failed: "上传失败",
    overall: "总进度",
    recycle_bin: "回收站",
    restore: "还原",
    empty_bin: "回收站为空。",
    deleted_at: "删除时间",
    confirm_delete: "移到回收站？",
    error: "错误",
    back: "返回",
    orgs: "组织",
    org: "组织",
    capacity: "容量",
    apps: "应用",
    users: "用户",
    scopes: "权限范围",
    create_app: "创建应用",
    app_created: "应用已创建",
    secret_once: "请立即复制 appSecret：它只显示这一次。",
    set_password: "设置控制台密码",
    password_set: "密码已设置，该用户的会话已全部结束。",
    org_admin: "组织管理员",
    health: "健康状态",
    share: "共享",
    versions: "历史版本",
    move_or_copy: "移动或复制",
    choose_folder: "选择文件夹…",
    move_to: "移动到",
    copy_to: "复制到",
    space_id: "空间 ID",
    folder_id: "文件夹 ID（0 为根目录）",
    task: "任务",
    search: "搜索",
    search_names: "名称包含…",
    nothing_found: "没有找到。",
    tasks: "后台任务",
    no_tasks: "没有正在运行的任务。",
    journal: "请求日志",
    journal_off: "请求日志未开启：以 --journal N（或 --ephemeral）启动服务器。",
    no_requests: "还没有请求。",
    latency: "耗时",
    kind: "类型",
    progress: "进度",
    created: "创建时间",
    space_usage: "各空间用量",
    depts: "部门",
    create_dept: "创建部门",
    dept_created: "部门已创建。",
    rotate_secret: "轮换密钥",
    confirm_rotate: "确定轮换此应用的密钥吗？其访问令牌立即失效，旧密钥不再可用。",
    secret_rotated: "新的 appSecret",
    events_changed: "事件设置已保存。",
    subscribe: "订阅",
    unsubscribe: "取消订阅",
    as_user: "以用户身份（unionId）",
    scope_id_hint: "空间 ID（SPACE）",
    set_callback: "设置回调",
    remove_callback: "删除回调",
    members: "成员",
    add_member: "添加成员",
    remove: "移除",
    members_changed: "部门成员已保存。",
    events: "事件",
    subscriptions: "订阅",
    callback: "HTTP 回调",
    parent: "上级部门",
    preview: "预览",
    opens_elsewhere: "此文件在其他网站打开：",
    version: "版本",
    revert: "恢复为当前版本",
    no_versions: "没有更早的版本。",
    purge: "彻底删除",
    confirm_purge: "彻底删除？此操作无法撤销。",
    member_id: "unionId、部门 ID 或 corpId",
    role: "角色",
    duration_secs: "秒（应用空间；留空为永久）",
    member_user: "用户",
    member_dept: "部门",
    member_org: "整个组织",
    ready: "就绪",
    not_ready: "未就绪",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_browsers_language_is_followed_by_weight() {
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
        assert_eq!(Lang::of(&accepting("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::of(&accepting("fr-FR,en;q=0.5,zh;q=0.7")), Lang::Zh);
        assert_eq!(Lang::of(&accepting("en-US,zh-TW;q=0.3")), Lang::En);
        assert_eq!(Lang::of(&accepting("de, fr")), Lang::En);
    }

    #[test]
    fn the_cookie_wins_over_the_browser() {
        let mut headers = accepting("en-US");
        headers.insert("cookie", HeaderValue::from_static("a=b; orgdrive_lang=zh-CN"));
        assert_eq!(Lang::of(&headers), Lang::Zh);
    }
}
