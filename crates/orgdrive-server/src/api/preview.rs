//! The preview pages behind GetDentryOpenInfo's `PREVIEW` links, outside the
//! documented API (the signed token is the credential, as on `blob`):
//! `GET /preview/{token}` renders a page for the file (server-side HTML, no
//! script; every user string escaped), `GET /preview/{media}/content` serves
//! an image, audio or video file's bytes inline (`Range` allowed) and
//! `GET /preview/{media}/pages/{n}` a PDF page rendered to PNG;
//! `GET /preview.css` is the pages' style sheet. Every answer carries a
//! strict `Content-Security-Policy` (media: `sandbox`), `nosniff`,
//! `Referrer-Policy: no-referrer` and `Cache-Control: private, no-store`; a
//! refused link is an HTML error page (403 tampered or expired, 404 gone).

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use orgdrive_core::{PreviewKind, PreviewPage, PreviewRefused, MAX_PREVIEW_TEXT_BYTES};

use crate::api::blob::{parse_range, RangeSpec};
use crate::extract::{BaseUrl, WirePath as Path};
use crate::metrics::{Operations, PREVIEW_OPERATION};
use crate::state::ServerState;
use crate::transport::blob_body;

pub fn routes(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/preview.css", Some(Method::GET), PREVIEW_OPERATION);
    operations.add("/preview/{*page}", Some(Method::GET), PREVIEW_OPERATION);
    Router::new()
        .route("/preview.css", get(style))
        .route("/preview/{token}", get(page))
        .route("/preview/{token}/content", get(content))
        .route("/preview/{token}/pages/{page}", get(pdf_page))
}

/// The page's policy: its own style sheet, images and media, nothing else.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    media-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Served bytes: never a document that can run anything.
const MEDIA_CSP: &str = "sandbox; default-src 'none'; frame-ancestors 'self'";

const STYLE: &str = "\
body{margin:0;font-family:system-ui,sans-serif;background:#f4f4f5;color:#18181b}\
header{padding:12px 20px;background:#fff;border-bottom:1px solid #e4e4e7}\
h1{margin:0;font-size:18px;overflow-wrap:anywhere}\
.meta{margin:4px 0 0;color:#52525b;font-size:13px}\
main{padding:20px;text-align:center}\
main img{max-width:100%;height:auto;display:block;margin:0 auto 16px}\
main img.page{background:#fff;box-shadow:0 1px 4px rgba(0,0,0,.2)}\
video,audio{max-width:100%}\
pre{text-align:left;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;\
padding:16px;border:1px solid #e4e4e7;font-size:13px}\
.note{color:#52525b}";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The strict headers every answer of these routes carries.
fn protect(response: &mut Response, csp: &'static str) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    protect(&mut response, PAGE_CSP);
    response
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"../preview.css\"></head>\
         <body>{body}</body></html>",
        escape_html(title)
    )
}

/// The error page of a refused link.
fn refused(why: PreviewRefused) -> Response {
    let (status, text) = match why {
        PreviewRefused::Invalid => (StatusCode::FORBIDDEN, "This preview link is not valid."),
        PreviewRefused::Expired => {
            (StatusCode::FORBIDDEN, "This preview link has expired. Ask for a new one.")
        }
        PreviewRefused::Gone => {
            (StatusCode::NOT_FOUND, "The file or version of this link no longer exists.")
        }
        PreviewRefused::Busy => {
            (StatusCode::SERVICE_UNAVAILABLE, "The preview is busy. Try again in a moment.")
        }
    };
    let body = format!("<header><h1>Preview unavailable</h1></header><main><p>{text}</p></main>");
    html(status, document("Preview unavailable", &body))
}

/// The HTML of a preview page.
pub fn render_page(page: &PreviewPage) -> String {
    let name = escape_html(&page.name);
    // Tokens are letters, digits, '_', '-' and '.', escaped all the same.
    let media = escape_html(&page.media_token);
    let mut body = format!(
        "<header><h1>{name}</h1><p class=\"meta\">{} · version {}",
        human_size(page.size),
        page.version
    );
    if let Some(url) = &page.download_url {
        let _ = write!(body, " · <a href=\"{}\" download>Download</a>", escape_html(url));
    }
    body.push_str("</p></header><main>");
    match page.kind {
        PreviewKind::Image => {
            let _ = write!(body, "<img src=\"{media}/content\" alt=\"{name}\">");
        }
        PreviewKind::Pdf => {
            for n in 1..=page.pdf_pages {
                let lazy = if n > 1 { " loading=\"lazy\"" } else { "" };
                let _ = write!(
                    body,
                    "<img class=\"page\" src=\"{media}/pages/{n}\" alt=\"page {n}\"{lazy}>"
                );
            }
        }
        PreviewKind::Text => {
            let (text, cut) = page.text.clone().unwrap_or_default();
            let _ = write!(body, "<pre>{}</pre>", escape_html(&text));
            if cut {
                let _ = write!(
                    body,
                    "<p class=\"note\">Only the first {} KiB are shown.</p>",
                    MAX_PREVIEW_TEXT_BYTES / 1024
                );
            }
        }
        PreviewKind::Audio => {
            let _ = write!(
                body,
                "<audio controls preload=\"metadata\" src=\"{media}/content\"></audio>"
            );
        }
        PreviewKind::Video => {
            let _ = write!(
                body,
                "<video controls preload=\"metadata\" src=\"{media}/content\"></video>"
            );
        }
        PreviewKind::Other => {
            body.push_str("<p class=\"note\">No preview is available for this file.</p>");
            if let Some(url) = &page.download_url {
                let _ = write!(
                    body,
                    "<p><a href=\"{}\" download>Download {name}</a></p>",
                    escape_html(url)
                );
            }
        }
    }
    body.push_str("</main>");
    document(&page.name, &body)
}

async fn style() -> Response {
    let mut response = STYLE.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css"));
    protect(&mut response, MEDIA_CSP);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

async fn page(
    State(state): State<ServerState>,
    Path(token): Path<String>,
    BaseUrl(base): BaseUrl,
) -> Response {
    match state.drive.open_preview(&token, &base).await {
        Ok(page) => html(StatusCode::OK, render_page(&page)),
        Err(why) => refused(why),
    }
}

async fn content(
    State(state): State<ServerState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let media = match state.drive.open_preview_media(&token).await {
        Ok(media) => media,
        Err(why) => return refused(why),
    };
    if !matches!(media.kind, PreviewKind::Image | PreviewKind::Audio | PreviewKind::Video) {
        return refused(PreviewRefused::Gone);
    }
    let size = media.size;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, size) {
            RangeSpec::Ignore => None,
            RangeSpec::Satisfiable(range) => Some(range),
            RangeSpec::Unsatisfiable => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                protect(&mut response, MEDIA_CSP);
                return response;
            }
        },
    };
    let (status, body_range) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..size),
    };
    let read = state.drive.read_object(&media.object_key, body_range.clone(), size).await;
    let download = match read {
        Ok(download) => download,
        Err(e) => {
            tracing::warn!(error = %e, "preview content not read");
            return refused(PreviewRefused::Gone);
        }
    };
    let body = blob_body(download.into_whole(), &state.limits, &state.metrics.file_bytes_out);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_range.end - body_range.start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    if let Some(r) = &range {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    protect(&mut response, MEDIA_CSP);
    response
}

async fn pdf_page(
    State(state): State<ServerState>,
    Path((token, page)): Path<(String, String)>,
) -> Response {
    let Ok(page) = page.parse::<u32>() else { return refused(PreviewRefused::Gone) };
    match state.drive.preview_pdf_page(&token, page).await {
        Ok(png) => {
            let mut response = png.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
            protect(&mut response, MEDIA_CSP);
            response
        }
        Err(why) => refused(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(kind: PreviewKind, name: &str) -> PreviewPage {
        PreviewPage {
            name: name.into(),
            size: 2048,
            version: 3,
            kind,
            media_token: "1.2.3.n.9.ab".into(),
            download_url: None,
            pdf_pages: 2,
            text: Some(("<script>alert('x')</script> & \"q\"".into(), true)),
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let hostile = "\"><script>alert(1)</script><img src=x onerror=alert(2)>.png";
        let html = render_page(&page(PreviewKind::Image, hostile));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<img src=\"1.2.3.n.9.ab/content\""));
        let text = render_page(&page(PreviewKind::Text, "a.html"));
        assert!(text.contains(
            "<pre>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</pre>"
        ));
        assert!(text.contains("Only the first 256 KiB"));
        assert!(!text.contains("Download"), "no download link without the right");
    }

    #[test]
    fn pages_show_each_kind() {
        let pdf = render_page(&page(PreviewKind::Pdf, "a.pdf"));
        assert!(pdf.contains("src=\"1.2.3.n.9.ab/pages/1\" alt=\"page 1\">"));
        assert!(pdf.contains("src=\"1.2.3.n.9.ab/pages/2\" alt=\"page 2\" loading=\"lazy\">"));
        assert!(render_page(&page(PreviewKind::Video, "a.mp4")).contains("<video controls"));
        assert!(render_page(&page(PreviewKind::Audio, "a.mp3")).contains("<audio controls"));
        let mut other = page(PreviewKind::Other, "a.zip");
        other.download_url = Some("http://h/blob/objects/x?name=a&signature=s".into());
        let html = render_page(&other);
        assert!(html.contains("No preview"));
        assert!(html.contains("href=\"http://h/blob/objects/x?name=a&amp;signature=s\""));
        assert!(html.contains("2.0 KiB · version 3"));
        assert_eq!(human_size(5), "5 bytes");
    }
}
