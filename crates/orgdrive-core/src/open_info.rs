//! GetDentryOpenInfo and RegisterOpenInfo, and what the preview pages show.
//!
//! A file's registered links (provider, open type → URL) come first and are
//! answered exactly as registered, the most recent of the requested type
//! winning. Without one, `PREVIEW` answers a link to orgdrive's own preview
//! page, `{public url}/preview/<token>`: the token names the space, the file,
//! the version (so the content object) and whether the caller may download,
//! signed with the server's key and valid [`PREVIEW_LINK_TTL_SECS`] to open.
//! The page then hands the browser media links (same binding, another
//! signing purpose) that live as long as download URLs. `EDIT` without a
//! registered link is `webOfficeNotConfigured`. This module decides what
//! kind of preview a file gets and reads what the page shows (the head of a
//! text file, the page count and pages of a PDF); the HTML is the server's.

use futures::TryStreamExt;
use orgdrive_blob::SignedRequest;
use orgdrive_store::{OpenLinkRecord, StoreError};

use crate::policy::{Operation, Place};
use crate::tools::{self, Scratch};
use crate::{names, now_ms, Drive, DriveError, DriveResult, Operator};

/// How long a preview link (the page) may be opened after it was issued.
pub const PREVIEW_LINK_TTL_SECS: i64 = 300;
/// Most links one RegisterOpenInfo call may register.
pub const MAX_OPEN_INFOS_PER_CALL: usize = 10;
/// Most registered links one file may hold.
pub const MAX_OPEN_LINKS_PER_DENTRY: u32 = 20;
/// Longest provider name.
pub const MAX_PROVIDER_CHARS: usize = 64;
/// Longest registered URL.
pub const MAX_OPEN_URL_CHARS: usize = 2048;
/// Most of a text file a preview page shows.
pub const MAX_PREVIEW_TEXT_BYTES: u64 = 256 << 10;
/// Most pages of a PDF a preview page shows.
pub const MAX_PDF_PREVIEW_PAGES: u32 = 20;
/// Largest file whose PDF pages are rendered (or whose video frame is taken).
pub const MAX_CONVERTED_BYTES: u64 = crate::thumbnails::MAX_SOURCE_BYTES;

/// What the page's link is signed for, and what its media links are.
const PAGE_PURPOSE: &str = "PREVIEW";
const MEDIA_PURPOSE: &str = "PREVIEW-MEDIA";

/// GetDentryOpenInfo's `option`.
#[derive(Debug, Default, Clone)]
pub struct OpenInfoRequest {
    /// `PREVIEW` (default) or `EDIT`.
    pub open_type: Option<String>,
    /// A history version; `None` = the current one.
    pub version: Option<i64>,
}

/// GetDentryOpenInfo's answer.
#[derive(Debug, Clone)]
pub struct OpenInfo {
    pub url: String,
    /// Always false: orgdrive draws no watermarks.
    pub has_water_mark: bool,
}

/// One item of RegisterOpenInfo's `openInfos`.
#[derive(Debug, Default, Clone)]
pub struct OpenLinkInput {
    pub open_type: Option<String>,
    pub url: Option<String>,
}

/// How a preview page shows a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    Image,
    Pdf,
    Text,
    Audio,
    Video,
    /// Name, size and (when allowed) a download link.
    Other,
}

/// The kind of preview a file name gets, and the media type its bytes are
/// served with inline (images, audio, video only: never HTML, SVG or XML).
pub fn preview_kind(name: &str) -> (PreviewKind, &'static str) {
    let (_, ext) = names::split_extension(name);
    let ext = ext.map(str::to_ascii_lowercase).unwrap_or_default();
    use PreviewKind::*;
    match ext.as_str() {
        "png" => (Image, "image/png"),
        "jpg" | "jpeg" => (Image, "image/jpeg"),
        "gif" => (Image, "image/gif"),
        "webp" => (Image, "image/webp"),
        "bmp" => (Image, "image/bmp"),
        "pdf" => (Pdf, "application/octet-stream"),
        "mp3" => (Audio, "audio/mpeg"),
        "wav" => (Audio, "audio/wav"),
        "ogg" | "oga" | "opus" => (Audio, "audio/ogg"),
        "m4a" | "aac" => (Audio, "audio/mp4"),
        "flac" => (Audio, "audio/flac"),
        "mp4" | "m4v" => (Video, "video/mp4"),
        "webm" => (Video, "video/webm"),
        "ogv" => (Video, "video/ogg"),
        "mov" => (Video, "video/quicktime"),
        "txt" | "text" | "md" | "markdown" | "csv" | "tsv" | "log" | "json" | "xml" | "yaml"
        | "yml" | "toml" | "ini" | "cfg" | "conf" | "c" | "h" | "cc" | "cpp" | "hpp" | "rs"
        | "py" | "js" | "mjs" | "ts" | "tsx" | "jsx" | "go" | "java" | "kt" | "swift" | "rb"
        | "php" | "pl" | "sh" | "bash" | "zsh" | "sql" | "css" | "scss" | "html" | "htm"
        | "svg" | "vue" | "lua" | "r" | "scala" | "cs" | "diff" | "patch" | "properties"
        | "gradle" | "tex" => (Text, "text/plain"),
        _ => (Other, "application/octet-stream"),
    }
}

/// What a preview token grants: one version of one file, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewGrant {
    pub space_id: String,
    pub dentry_id: String,
    pub version: i64,
    /// Whether the caller it was issued to could download the file.
    pub download: bool,
    /// Unix seconds.
    pub expires: i64,
}

/// Why a preview link is refused (an error page, never a 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewRefused {
    /// Malformed, tampered with, or signed for something else (403).
    Invalid,
    /// Past its expiry (403).
    Expired,
    /// The file or version is gone, or there is no such page (404).
    Gone,
    /// Every converter stayed busy for [`CONVERTER_WAIT`] (503).
    Busy,
}

/// Longest a preview request waits for a converter's turn before it is
/// answered 503 (its input is copied only once it has the turn).
pub const CONVERTER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A preview page's content.
#[derive(Debug, Clone)]
pub struct PreviewPage {
    pub name: String,
    pub size: u64,
    pub version: i64,
    pub kind: PreviewKind,
    /// The token of the page's media links (`<token>/content`, `<token>/pages/<n>`).
    pub media_token: String,
    /// A signed download URL, when the caller could download.
    pub download_url: Option<String>,
    /// PDF pages shown (0: not rendered here; the page offers the download).
    pub pdf_pages: u32,
    /// The head of a text file, and whether it was cut.
    pub text: Option<(String, bool)>,
}

/// The bytes behind a media link.
#[derive(Debug, Clone)]
pub struct PreviewMedia {
    pub object_key: String,
    pub size: u64,
    pub name: String,
    pub kind: PreviewKind,
    pub media_type: &'static str,
}

fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl PreviewGrant {
    fn signed_fields(&self) -> String {
        let d = if self.download { "d" } else { "n" };
        format!("{}/{}/{}/{d}", self.space_id, self.dentry_id, self.version)
    }

    fn request<'a>(&self, purpose: &'a str, fields: &'a str) -> SignedRequest<'a> {
        SignedRequest { method: purpose, object_key: "", expires: self.expires, file_name: fields }
    }
}

/// Signs `grant` for `purpose`: `space.dentry.version.flag.expires.signature`.
fn sign_grant(signer: &orgdrive_blob::Presigner, grant: &PreviewGrant, purpose: &str) -> String {
    let fields = grant.signed_fields();
    let signature = signer.sign(&grant.request(purpose, &fields));
    let d = if grant.download { "d" } else { "n" };
    format!(
        "{}.{}.{}.{d}.{}.{signature}",
        grant.space_id, grant.dentry_id, grant.version, grant.expires
    )
}

/// Checks a token signed for `purpose` at `now` (Unix seconds).
fn verify_grant(
    signer: &orgdrive_blob::Presigner,
    token: &str,
    purpose: &str,
    now: i64,
) -> Result<PreviewGrant, PreviewRefused> {
    let parts: Vec<&str> = token.split('.').collect();
    let [space_id, dentry_id, version, flag, expires, signature] = parts[..] else {
        return Err(PreviewRefused::Invalid);
    };
    // One spelling per number (no leading zeros), and the signature as
    // signed (lower-case hex): a token has exactly one accepted form.
    let number = |s: &str| {
        let canonical = s == "0" || !s.starts_with('0');
        (s.len() <= 19 && !s.is_empty() && canonical && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    if signature.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(PreviewRefused::Invalid);
    }
    let (Some(version), Some(expires)) = (number(version), number(expires)) else {
        return Err(PreviewRefused::Invalid);
    };
    if !safe_id(space_id) || !safe_id(dentry_id) || !matches!(flag, "d" | "n") {
        return Err(PreviewRefused::Invalid);
    }
    let grant = PreviewGrant {
        space_id: space_id.to_string(),
        dentry_id: dentry_id.to_string(),
        version,
        download: flag == "d",
        expires,
    };
    let fields = grant.signed_fields();
    signer.verify(&grant.request(purpose, &fields), signature, now).map_err(|e| match e {
        orgdrive_blob::SignatureError::Expired => PreviewRefused::Expired,
        orgdrive_blob::SignatureError::Mismatch => PreviewRefused::Invalid,
    })?;
    Ok(grant)
}

/// The normalized open type (`PREVIEW` when absent), or `paramError.<field>`.
fn open_type(value: Option<&str>, field: &str) -> DriveResult<&'static str> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        None | Some("PREVIEW") => Ok("PREVIEW"),
        Some("EDIT") => Ok("EDIT"),
        Some(_) => Err(DriveError::param(field, "must be PREVIEW or EDIT")),
    }
}

/// A provider name: 1 to 64 letters, digits, `_`, `-` or `.`.
fn check_provider(provider: Option<&str>) -> DriveResult<String> {
    let provider = provider.unwrap_or_default();
    let ok = !provider.is_empty()
        && provider.len() <= MAX_PROVIDER_CHARS
        && provider.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(DriveError::param(
            "provider",
            format!("must be 1 to {MAX_PROVIDER_CHARS} letters, digits, '_', '-' or '.'"),
        ));
    }
    Ok(provider.to_string())
}

/// A registered URL: absolute `http`/`https` with a host, printable ASCII
/// (already percent-encoded), no user info, at most [`MAX_OPEN_URL_CHARS`].
fn check_open_url(url: Option<&str>) -> DriveResult<String> {
    let bad = |why: &str| DriveError::param("url", why.to_string());
    let url = url.unwrap_or_default();
    if url.is_empty() || url.len() > MAX_OPEN_URL_CHARS {
        return Err(bad(&format!("must be 1 to {MAX_OPEN_URL_CHARS} characters")));
    }
    if !url.bytes().all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'"' | b'<' | b'>' | b'\\')) {
        return Err(bad("must be printable ASCII without spaces, quotes, '<', '>' or '\\'"));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| bad("must be an absolute http or https URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
        return Err(bad("must name a host (and no user info)"));
    }
    Ok(url.to_string())
}

impl Drive {
    /// GetDentryOpenInfo: the registered link of the requested type, else
    /// (PREVIEW) a link to orgdrive's preview page, else (EDIT) the
    /// configured WOPI client's editor URL, as GetWebOfficeUrl answers it
    /// (`webOfficeNotConfigured` without one).
    pub async fn get_dentry_open_info(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        request: &OpenInfoRequest,
        base_url: &str,
    ) -> DriveResult<OpenInfo> {
        let open_type = open_type(request.open_type.as_deref(), "type")?;
        let space = self.space_for(op, space_id).await?;
        let file = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        let operation =
            if open_type == "EDIT" { Operation::OpenForEdit } else { Operation::Preview };
        self.authorize(op, &space, Place::Dentry(&file), operation).await?;
        if file.is_folder() {
            return Err(DriveError::param("dentryId", format!("{dentry_id} is a folder")));
        }
        let version = match request.version {
            None => file.version,
            Some(v) if v == file.version => v,
            Some(v) => match self.meta.get_version(&file.dentry_id, v).await? {
                Some(old) => old.version,
                None => {
                    return Err(DriveError::param("version", format!("version {v} does not exist")))
                }
            },
        };
        if let Some(link) = self.meta.get_open_link(&file.dentry_id, open_type).await? {
            return Ok(OpenInfo { url: link.url, has_water_mark: false });
        }
        if open_type == "EDIT" {
            // orgdrive's own editor: the configured WOPI client, on the
            // current content (a history version is reverted, not edited).
            if version != file.version {
                return Err(DriveError::param("version", "only the current version can be edited"));
            }
            if self.options.wopi_client_url.is_none() {
                return Err(DriveError::WebOfficeNotConfigured(
                    "no edit link is registered for this file and no WebOffice editor is \
                     configured (--wopi-client-url)"
                        .into(),
                ));
            }
            let office = self.get_web_office_url(op, space_id, dentry_id, base_url).await?;
            return Ok(OpenInfo { url: office.url, has_water_mark: false });
        }
        let download = self
            .authorize(op, &space, Place::Dentry(&file), Operation::GetFileDownloadInfo)
            .await
            .is_ok();
        let grant = PreviewGrant {
            space_id: space.space_id.clone(),
            dentry_id: file.dentry_id.clone(),
            version,
            download,
            expires: now_ms() / 1000 + PREVIEW_LINK_TTL_SECS,
        };
        let token = sign_grant(&self.presigner, &grant, PAGE_PURPOSE);
        Ok(OpenInfo { url: format!("{base_url}/preview/{token}"), has_water_mark: false })
    }

    /// RegisterOpenInfo: stores the links, each replacing the provider's
    /// link of its open type.
    pub async fn register_open_info(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        provider: Option<&str>,
        infos: &[OpenLinkInput],
    ) -> DriveResult<()> {
        let provider = check_provider(provider)?;
        if infos.is_empty() || infos.len() > MAX_OPEN_INFOS_PER_CALL {
            return Err(DriveError::param(
                "openInfos",
                format!("must hold 1 to {MAX_OPEN_INFOS_PER_CALL} links"),
            ));
        }
        let now = now_ms();
        let mut links: Vec<OpenLinkRecord> = Vec::with_capacity(infos.len());
        for info in infos {
            let Some(given) = info.open_type.as_deref() else {
                return Err(DriveError::param("openType", "is required"));
            };
            let open_type = open_type(Some(given), "openType")?;
            if links.iter().any(|l| l.open_type == open_type) {
                return Err(DriveError::param(
                    "openInfos",
                    format!("{open_type} is given more than once"),
                ));
            }
            links.push(OpenLinkRecord {
                dentry_id: dentry_id.to_string(),
                provider: provider.clone(),
                open_type: open_type.to_string(),
                url: check_open_url(info.url.as_deref())?,
                registered_at: now,
            });
        }
        let space = self.space_for(op, space_id).await?;
        let file = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&file), Operation::RegisterOpenInfo).await?;
        if file.is_folder() {
            return Err(DriveError::param("dentryId", format!("{dentry_id} is a folder")));
        }
        let stored = self
            .meta
            .put_open_links(&space.space_id, &file.dentry_id, &links, MAX_OPEN_LINKS_PER_DENTRY)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => crate::error::unknown_dentry("dentryId", dentry_id),
                other => other.into(),
            })?;
        if !stored {
            return Err(DriveError::param(
                "openInfos",
                format!("a file holds at most {MAX_OPEN_LINKS_PER_DENTRY} registered links"),
            ));
        }
        Ok(())
    }

    /// The name (the version's), content object and size a verified grant
    /// names, if the file is still live and the version still there.
    async fn granted_content(
        &self,
        grant: &PreviewGrant,
    ) -> Result<(String, String, u64), PreviewRefused> {
        let gone = |_| PreviewRefused::Gone;
        let file = match self.meta.get_dentry(&grant.space_id, &grant.dentry_id).await {
            Ok(Some(file)) if file.status == "NORMAL" && !file.is_folder() => file,
            Ok(_) => return Err(PreviewRefused::Gone),
            Err(e) => {
                tracing::warn!(error = %e, "preview lookup failed");
                return Err(PreviewRefused::Gone);
            }
        };
        let (name, key, size) = if grant.version == file.version {
            (file.name, file.blob_key.ok_or(PreviewRefused::Gone)?, file.size)
        } else {
            match self.meta.get_version(&file.dentry_id, grant.version).await {
                Ok(Some(old)) => (old.name, old.blob_key, old.size),
                _ => return Err(PreviewRefused::Gone),
            }
        };
        let size = u64::try_from(size).map_err(gone)?;
        Ok((name, key, size))
    }

    /// A preview page's link: verifies it and gathers what the page shows.
    pub async fn open_preview(
        &self,
        token: &str,
        base_url: &str,
    ) -> Result<PreviewPage, PreviewRefused> {
        let grant = verify_grant(&self.presigner, token, PAGE_PURPOSE, now_ms() / 1000)?;
        let (name, key, size) = self.granted_content(&grant).await?;
        let (mut kind, _) = preview_kind(&name);
        let media = PreviewGrant {
            expires: now_ms() / 1000 + self.options.signed_url_ttl_secs,
            ..grant.clone()
        };
        let media_token = sign_grant(&self.presigner, &media, MEDIA_PURPOSE);
        let download_url =
            grant.download.then(|| self.signed_object_url(base_url, &key, &name, size).url);
        let mut pdf_pages = 0;
        let mut text = None;
        match kind {
            PreviewKind::Pdf => {
                pdf_pages = self.pdf_page_count(&key, size).await.unwrap_or(0);
                if pdf_pages == 0 {
                    kind = PreviewKind::Other;
                }
            }
            PreviewKind::Text => match self.read_head(&key, size).await {
                Ok(head) => text = Some(head),
                Err(e) => {
                    tracing::warn!(error = %e, "preview text not read");
                    kind = PreviewKind::Other;
                }
            },
            _ => {}
        }
        Ok(PreviewPage {
            name,
            size,
            version: grant.version,
            kind,
            media_token,
            download_url,
            pdf_pages,
            text,
        })
    }

    /// A media link of a preview page (images, audio and video only).
    pub async fn open_preview_media(&self, token: &str) -> Result<PreviewMedia, PreviewRefused> {
        let grant = verify_grant(&self.presigner, token, MEDIA_PURPOSE, now_ms() / 1000)?;
        let (name, object_key, size) = self.granted_content(&grant).await?;
        let (kind, media_type) = preview_kind(&name);
        Ok(PreviewMedia { object_key, size, name, kind, media_type })
    }

    /// Page `page` (from 1) of a PDF behind a media link, as a PNG.
    pub async fn preview_pdf_page(
        &self,
        token: &str,
        page: u32,
    ) -> Result<Vec<u8>, PreviewRefused> {
        let media = self.open_preview_media(token).await?;
        if media.kind != PreviewKind::Pdf
            || !(1..=MAX_PDF_PREVIEW_PAGES).contains(&page)
            || media.size > MAX_CONVERTED_BYTES
            || !tools::available("pdftoppm")
        {
            return Err(PreviewRefused::Gone);
        }
        let turn = tools::turn(Some(CONVERTER_WAIT)).await.ok_or(PreviewRefused::Busy)?;
        let scratch = Scratch::new().map_err(|_| PreviewRefused::Gone)?;
        let (source, out) = (scratch.path("in.pdf"), scratch.path("page"));
        self.copy_object_to(&media.object_key, media.size, &source)
            .await
            .map_err(|_| PreviewRefused::Gone)?;
        let page = page.to_string();
        let args: Vec<std::ffi::OsString> = vec![
            "-q".into(),
            "-f".into(),
            page.clone().into(),
            "-l".into(),
            page.into(),
            "-scale-to".into(),
            "1400".into(),
            "-png".into(),
            "-singlefile".into(),
            source.into(),
            out.clone().into(),
        ];
        if let Err(e) = tools::run(&turn, "pdftoppm", args).await {
            tracing::debug!(error = %e, "PDF page not rendered");
            return Err(PreviewRefused::Gone);
        }
        tools::read_output(&out.with_extension("png")).await.ok_or(PreviewRefused::Gone)
    }

    /// The pages of a PDF (at most [`MAX_PDF_PREVIEW_PAGES`]); `None` when
    /// poppler is not installed or the file is not a PDF it can read.
    async fn pdf_page_count(&self, object_key: &str, size: u64) -> Option<u32> {
        if size > MAX_CONVERTED_BYTES || !tools::available("pdfinfo") {
            return None;
        }
        let turn = tools::turn(Some(CONVERTER_WAIT)).await?;
        let scratch = Scratch::new().ok()?;
        let source = scratch.path("in.pdf");
        self.copy_object_to(object_key, size, &source).await.ok()?;
        let info = tools::run(&turn, "pdfinfo", [source.as_os_str()]).await.ok()?;
        let info = String::from_utf8_lossy(&info);
        let pages = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse::<u32>().ok())?;
        Some(pages.min(MAX_PDF_PREVIEW_PAGES))
    }

    /// The first [`MAX_PREVIEW_TEXT_BYTES`] of a file as text (invalid UTF-8
    /// replaced), and whether there was more.
    async fn read_head(&self, object_key: &str, size: u64) -> DriveResult<(String, bool)> {
        let internal = |e: &dyn std::fmt::Display| DriveError::Internal(e.to_string());
        let end = size.min(MAX_PREVIEW_TEXT_BYTES);
        let mut head = Vec::with_capacity(end as usize);
        if end > 0 {
            let mut stream = self.object_stream(object_key, 0..end).await?;
            while let Some(chunk) = stream.try_next().await.map_err(|e| internal(&e))? {
                let room = end as usize - head.len();
                head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
        }
        let cut = size > end;
        Ok((String::from_utf8_lossy(&head).into_owned(), cut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgdrive_blob::Presigner;

    fn grant() -> PreviewGrant {
        PreviewGrant {
            space_id: "123".into(),
            dentry_id: "456".into(),
            version: 2,
            download: false,
            expires: 1_000,
        }
    }

    #[test]
    fn preview_tokens_bind_file_version_right_purpose_and_expiry() {
        let signer = Presigner::new(b"key-key-key-key-key-key-key-key-");
        let token = sign_grant(&signer, &grant(), PAGE_PURPOSE);
        assert_eq!(verify_grant(&signer, &token, PAGE_PURPOSE, 999), Ok(grant()));
        assert_eq!(verify_grant(&signer, &token, PAGE_PURPOSE, 1_000), Ok(grant()));
        assert_eq!(
            verify_grant(&signer, &token, PAGE_PURPOSE, 1_001),
            Err(PreviewRefused::Expired)
        );
        // Another purpose, another key: refused.
        assert_eq!(verify_grant(&signer, &token, MEDIA_PURPOSE, 999), Err(PreviewRefused::Invalid));
        let other = Presigner::new(b"another-key-another-key-another-");
        assert_eq!(verify_grant(&other, &token, PAGE_PURPOSE, 999), Err(PreviewRefused::Invalid));
        // Every field is signed: change any one and it is refused.
        let fields: Vec<&str> = token.split('.').collect();
        for (i, changed) in ["124", "457", "1", "d", "2000"].iter().enumerate() {
            let mut tampered = fields.clone();
            tampered[i] = changed;
            assert_eq!(
                verify_grant(&signer, &tampered.join("."), PAGE_PURPOSE, 999),
                Err(PreviewRefused::Invalid),
                "field {i}"
            );
        }
        for malformed in ["", "a.b", "1.2.3.d.4", "1.2.x.d.4.ab", "1/2.3.1.d.4.ab", "1.2.3.q.4.ab"]
        {
            assert_eq!(
                verify_grant(&signer, malformed, PAGE_PURPOSE, 0),
                Err(PreviewRefused::Invalid),
                "{malformed}"
            );
        }
        // Other spellings of the same genuine token are refused too.
        let zero_padded =
            [fields[0], fields[1], &format!("0{}", fields[2]), fields[3], fields[4], fields[5]];
        let upper_hex = [
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            &fields[5].to_ascii_uppercase(),
        ];
        for other in [zero_padded.join("."), upper_hex.join(".")] {
            assert_eq!(
                verify_grant(&signer, &other, PAGE_PURPOSE, 999),
                Err(PreviewRefused::Invalid)
            );
        }
        let downloadable = PreviewGrant { download: true, ..grant() };
        let token = sign_grant(&signer, &downloadable, MEDIA_PURPOSE);
        assert!(token.contains(".d."));
        assert_eq!(verify_grant(&signer, &token, MEDIA_PURPOSE, 0), Ok(downloadable));
    }

    #[test]
    fn registered_links_are_checked() {
        assert!(check_provider(Some("MS_OFFICE")).is_ok());
        assert!(check_provider(Some("wps.cloud-1")).is_ok());
        for bad in [None, Some(""), Some("a b"), Some("<x>"), Some("名")] {
            assert!(check_provider(bad).is_err(), "{bad:?}");
        }
        assert!(check_provider(Some(&"a".repeat(65))).is_err());
        assert!(check_open_url(Some("https://office.example.com/open?id=1#x")).is_ok());
        assert!(check_open_url(Some("HTTP://h:8080")).is_ok());
        for bad in [
            "",
            "javascript:alert(1)",
            "ftp://h/x",
            "https://",
            "https:///path",
            "https://user@h/",
            "https://h/a b",
            "https://h/\"x",
            "https://h/<x>",
            "//h/x",
            "https://h/é",
        ] {
            assert!(check_open_url(Some(bad)).is_err(), "{bad}");
        }
        let long = format!("https://h/{}", "a".repeat(MAX_OPEN_URL_CHARS));
        assert!(check_open_url(Some(&long)).is_err());
        assert_eq!(open_type(None, "type").unwrap(), "PREVIEW");
        assert_eq!(open_type(Some("edit"), "type").unwrap(), "EDIT");
        assert!(open_type(Some("VIEW"), "type").is_err());
    }

    #[test]
    fn kinds_never_serve_markup_inline() {
        assert_eq!(preview_kind("a.PNG"), (PreviewKind::Image, "image/png"));
        assert_eq!(preview_kind("a.pdf").0, PreviewKind::Pdf);
        assert_eq!(preview_kind("a.mp4"), (PreviewKind::Video, "video/mp4"));
        assert_eq!(preview_kind("a.mp3"), (PreviewKind::Audio, "audio/mpeg"));
        for markup in ["a.html", "a.svg", "a.xml", "a.htm"] {
            assert_eq!(preview_kind(markup), (PreviewKind::Text, "text/plain"), "{markup}");
        }
        assert_eq!(preview_kind("a.exe").0, PreviewKind::Other);
        assert_eq!(preview_kind("noext").0, PreviewKind::Other);
    }
}
