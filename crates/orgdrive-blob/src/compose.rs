//! Joining objects into one inside an S3 bucket: a multipart upload whose
//! parts are server-side copies of existing objects (CreateMultipartUpload,
//! UploadPartCopy, CompleteMultipartUpload), so no byte passes through
//! orgdrive. OpenDAL has no API for UploadPartCopy; these three requests are
//! signed here with `reqsign`, the signer OpenDAL itself uses. S3 takes parts
//! of at least [`MIN_COMPOSE_PART`] bytes, all but the last.

use std::time::Duration;

use opendal::ErrorKind;
use reqsign::{AwsCredential, AwsV4Signer};
use serde::Deserialize;

use crate::http::{with_retries, StoreAnsweredBusy};
use crate::location::S3Location;
use crate::manifest::is_manifest_key;
use crate::{confined, BlobError, BlobStore, PresignedUrl};

/// S3's smallest part of a multipart upload, but the last: 5 MiB.
pub const MIN_COMPOSE_PART: u64 = 5 << 20;

/// What signs and sends the requests of a composition (S3 stores only).
pub(crate) struct Composer {
    client: reqwest::Client,
    signer: AwsV4Signer,
    credential: AwsCredential,
    /// `scheme://host[:port]`, or for virtual-hosted addressing
    /// `scheme://bucket.host[:port]`.
    base: String,
    /// The path of the bucket's root before an object key: `/bucket/prefix/`
    /// (path style) or `/prefix/`; percent-encoded.
    path_prefix: String,
    /// `bucket/prefix/` for `x-amz-copy-source`, percent-encoded.
    copy_prefix: String,
    /// The store's count of requests sent again.
    retries: crate::http::RetryCount,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credential.
        f.debug_struct("Composer").field("base", &self.base).finish_non_exhaustive()
    }
}

fn failed(message: impl Into<String>) -> BlobError {
    BlobError(opendal::Error::new(ErrorKind::Unexpected, message.into()))
}

/// Percent-encodes a path (everything but unreserved characters and `/`).
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Escapes text for an XML element.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Deserialize)]
struct InitiateMultipartUploadResult {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

#[derive(Deserialize)]
struct CopyPartResult {
    #[serde(rename = "ETag")]
    etag: String,
}

impl Composer {
    pub(crate) fn new(
        location: &S3Location,
        credential: AwsCredential,
        waits: crate::http::Waits,
        retries: crate::http::RetryCount,
    ) -> Result<Composer, BlobError> {
        let endpoint = location
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", location.region));
        let endpoint = endpoint.trim_end_matches('/');
        let root = location.root.as_deref().unwrap_or("").trim_matches('/');
        let prefix =
            if root.is_empty() { String::new() } else { format!("{}/", encode_path(root)) };
        let (base, path_prefix) = if location.path_style {
            (endpoint.to_string(), format!("/{}/{prefix}", location.bucket))
        } else {
            let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            (format!("{scheme}://{}.{host}", location.bucket), format!("/{prefix}"))
        };
        let client = crate::http::bounded_http_client(waits)
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| failed(format!("an HTTP client: {e}")))?;
        Ok(Composer {
            client,
            signer: AwsV4Signer::new("s3", &location.region),
            credential,
            base,
            path_prefix,
            copy_prefix: format!("{}/{prefix}", location.bucket),
            retries,
        })
    }

    /// Sends the presigned PUT `put` as a client could: its headers, no
    /// body, and an `x-amz-copy-source` naming object `source` of the store
    /// that its signature does not cover. Whether the store took it (2xx).
    pub(crate) async fn put_with_unsigned_copy_source(
        &self,
        put: &PresignedUrl,
        source: &str,
    ) -> Result<bool, BlobError> {
        let mut request = self.client.put(&put.url).body(Vec::new());
        for (name, value) in &put.headers {
            request = request.header(name, value);
        }
        let copy_source = format!("{}{}", self.copy_prefix, encode_path(source));
        let response = request
            .header("x-amz-copy-source", copy_source)
            .send()
            .await
            // Not the URL: it carries the probe's signature.
            .map_err(|e| failed(format!("sending a request: {}", e.without_url())))?;
        Ok(response.status().is_success())
    }

    fn url(&self, key: &str, query: &str) -> String {
        format!("{}{}{}?{query}", self.base, self.path_prefix, encode_path(key))
    }

    /// Sends a signed request, again while it fails retryably
    /// ([`with_retries`]: an answered server error or a connection never
    /// opened, so nothing was done); the body of a 2xx answer that is not an
    /// S3 error document (CompleteMultipartUpload may fail with 200).
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<String, BlobError> {
        let send = || self.send_once(method.clone(), url, headers, body.clone());
        with_retries(&self.retries, send).await
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<String, BlobError> {
        let mut request = self.client.request(method.clone(), url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut request = request.build().map_err(|e| failed(format!("a request: {e}")))?;
        self.signer
            .sign(&mut request, &self.credential)
            .map_err(|e| failed(format!("signing a request: {e}")))?;
        let sent = |e: reqwest::Error| {
            BlobError(opendal::Error::new(ErrorKind::Unexpected, "sending a request").set_source(e))
        };
        let response = self.client.execute(request).await.map_err(sent)?;
        let status = response.status();
        let text = response.text().await.map_err(sent)?;
        if !status.is_success() || text.contains("<Error>") {
            let code = text
                .split("<Code>")
                .nth(1)
                .and_then(|rest| rest.split("</Code>").next())
                .unwrap_or("");
            let kind = if status == reqwest::StatusCode::NOT_FOUND || code == "NoSuchKey" {
                ErrorKind::NotFound
            } else if code == "SlowDown" {
                ErrorKind::RateLimited
            } else {
                ErrorKind::Unexpected
            };
            let error = opendal::Error::new(kind, format!("S3 answered {status} {code}"));
            // CompleteMultipartUpload answers its failures with 200 and the
            // code alone; S3 says to send it again on these.
            let busy_code = matches!(code, "InternalError" | "SlowDown" | "ServiceUnavailable");
            if crate::http::busy(status) || busy_code {
                return Err(BlobError(error.set_source(StoreAnsweredBusy::new(&method, status))));
            }
            return Err(BlobError(error));
        }
        Ok(text)
    }

    async fn compose(&self, parts: &[String], dest: &str) -> Result<(), BlobError> {
        let created = self
            .send(reqwest::Method::POST, &self.url(dest, "uploads"), &[], String::new())
            .await?;
        let created: InitiateMultipartUploadResult = quick_xml::de::from_str(&created)
            .map_err(|e| failed(format!("a CreateMultipartUpload answer: {e}")))?;
        let upload_id = created.upload_id;
        let query_id = encode_path(&upload_id).replace('/', "%2F");
        let result = async {
            let mut etags = Vec::with_capacity(parts.len());
            for (n, part) in (1..).zip(parts) {
                let url = self.url(dest, &format!("partNumber={n}&uploadId={query_id}"));
                let source = format!("{}{}", self.copy_prefix, encode_path(part));
                let copied = self
                    .send(
                        reqwest::Method::PUT,
                        &url,
                        &[("x-amz-copy-source", source)],
                        String::new(),
                    )
                    .await?;
                let copied: CopyPartResult = quick_xml::de::from_str(&copied)
                    .map_err(|e| failed(format!("an UploadPartCopy answer: {e}")))?;
                etags.push(copied.etag);
            }
            let mut body = String::from("<CompleteMultipartUpload>");
            for (n, etag) in (1..).zip(&etags) {
                body.push_str(&format!(
                    "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                    xml_text(etag)
                ));
            }
            body.push_str("</CompleteMultipartUpload>");
            let url = self.url(dest, &format!("uploadId={query_id}"));
            // Not sent again: a gateway's 502 or 504 may come after the
            // store joined the parts (the commit is then answered 503, and
            // asked again joins them anew).
            self.send_once(reqwest::Method::POST, &url, &[], body).await.map(|_| ())
        }
        .await;
        if result.is_err() {
            let url = self.url(dest, &format!("uploadId={query_id}"));
            let _ = self.send(reqwest::Method::DELETE, &url, &[], String::new()).await;
        }
        result
    }
}

impl BlobStore {
    /// Whether [`BlobStore::compose`] is available (S3 stores).
    pub fn composes(&self) -> bool {
        self.inner.composer.is_some()
    }

    /// Writes the concatenation of plain objects `parts` to `dest` inside
    /// the store, without reading them (S3 UploadPartCopy); every part but
    /// the last must hold at least [`MIN_COMPOSE_PART`] bytes (S3 refuses
    /// the completion otherwise). A failure leaves `dest` as it was.
    pub async fn compose(&self, parts: &[String], dest: &str) -> Result<(), BlobError> {
        let Some(composer) = &self.inner.composer else {
            return Err(BlobError(opendal::Error::new(
                ErrorKind::Unsupported,
                "this store cannot compose objects",
            )));
        };
        for key in parts.iter().map(String::as_str).chain([dest]) {
            if is_manifest_key(confined(key)?) {
                return Err(failed("a manifest cannot be composed"));
            }
        }
        if parts.is_empty() || parts.len() > 10_000 {
            return Err(failed("1 to 10000 parts are composed"));
        }
        composer.compose(parts, dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Waits;

    fn location(root: Option<&str>, path_style: bool) -> S3Location {
        S3Location {
            bucket: "bkt".into(),
            endpoint: Some("http://127.0.0.1:9000/".into()),
            region: "us-east-1".into(),
            root: root.map(str::to_string),
            path_style,
            insecure_presigned_puts: false,
        }
    }

    fn credential() -> AwsCredential {
        AwsCredential {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            expires_in: None,
        }
    }

    #[test]
    fn urls_address_the_bucket_and_root() {
        let path = Composer::new(
            &location(Some("/a b/c/"), true),
            credential(),
            Waits::default(),
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            path.url("objects/x", "uploads"),
            "http://127.0.0.1:9000/bkt/a%20b/c/objects/x?uploads"
        );
        assert_eq!(path.copy_prefix, "bkt/a%20b/c/");
        let host = Composer::new(
            &location(None, false),
            credential(),
            Waits::default(),
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            host.url("objects/x", "uploadId=1"),
            "http://bkt.127.0.0.1:9000/objects/x?uploadId=1"
        );
        assert_eq!(host.copy_prefix, "bkt/");
        assert!(!format!("{path:?}").contains("secret"));
        assert_eq!(xml_text("\"a&b<\""), "&quot;a&amp;b&lt;&quot;");
    }
}
