//! What only object stores (S3, OSS) do for orgdrive: presigned URLs of the
//! store itself, through which clients PUT and GET bytes without orgdrive
//! seeing them; server-side copies (S3 CopyObject), so that committing an
//! upload moves no bytes through orgdrive; and the size and MD5 (from the
//! ETag) of an object as the store reports them; and opening those stores
//! (credentials from the environment only).

use std::time::Duration;

use futures::StreamExt;
use md5::{Digest, Md5};
use opendal::ErrorKind;

use opendal::{services, Operator};

use crate::compose::Composer;
use crate::http::{bounded_http_client, retry_layer, RetryCount, StoreFetch, Waits};
use crate::location::{OssLocation, S3Location};
use crate::manifest::is_manifest_key;
use crate::{confined, BlobError, BlobStore};

/// The largest object S3's CopyObject copies (as much as one PUT carries).
const S3_MAX_COPY_BYTES: u64 = 5 << 30;
/// The largest object OSS's CopyObject copies ("1 GB"; larger ones need
/// UploadPartCopy, which orgdrive does not send to OSS).
const OSS_MAX_COPY_BYTES: u64 = 1 << 30;

/// A request a client sends straight to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    pub method: String,
    pub url: String,
    /// Headers the client must send as they are for the signature to verify.
    pub headers: Vec<(String, String)>,
}

/// An object's size and, when the store tells it, its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStat {
    pub size: u64,
    /// Lower-case hex, from an ETag that has the shape of an MD5 (S3 and OSS
    /// give the MD5 as the ETag of an object written by one PUT or copied
    /// from one; encrypted or multipart objects may not: compare, and read
    /// the bytes when it disagrees — see [`BlobStore::md5`]).
    pub etag_md5: Option<String>,
    /// The `Content-Encoding` the store keeps with the object (and answers
    /// downloads with), if any.
    pub content_encoding: Option<String>,
}

impl ObjectStat {
    /// Whether a download of the object is served as its bytes, not as an
    /// encoding of other bytes that HTTP clients would decode (`gzip`…).
    pub fn served_as_is(&self) -> bool {
        self.content_encoding.as_deref().is_none_or(|e| e.trim().eq_ignore_ascii_case("identity"))
    }
}

fn unsupported(what: &str) -> BlobError {
    BlobError(opendal::Error::new(ErrorKind::Unsupported, format!("this store cannot {what}")))
}

fn presigned(request: opendal::raw::PresignedRequest) -> PresignedUrl {
    let headers = request.header().iter();
    let headers = headers.filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    PresignedUrl {
        method: request.method().to_string(),
        url: request.uri().to_string(),
        headers: headers_to_send(headers),
    }
}

/// The headers of a presigned request that its client must send. Not
/// `Content-Length`: it is the body's own (neither S3's query signature nor
/// OSS's binds it), and OpenDAL's OSS presign puts `Content-Length: 0` in a
/// PUT of unknown size, which a client told to send it as it is would send
/// with its body.
fn headers_to_send<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    headers
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

impl BlobStore {
    /// Whether clients PUT and GET bytes on the store's own presigned URLs
    /// (object stores), rather than on orgdrive's `/blob` route.
    pub fn presigns(&self) -> bool {
        self.inner.presigns
    }

    /// A presigned PUT of object `key`, valid for `ttl`.
    pub async fn presign_put(&self, key: &str, ttl: Duration) -> Result<PresignedUrl, BlobError> {
        let key = confined(key)?;
        if !self.presigns() || is_manifest_key(key) {
            return Err(unsupported("presign this write"));
        }
        // OpenDAL's presigned PUTs bind no header (on S3 `host` alone; write
        // options are dropped), so a client may PUT with a Content-Encoding
        // the bucket would answer downloads with: CommitFile refuses such an
        // object (`ObjectStat::served_as_is`).
        Ok(presigned(self.inner.op.presign_write(key, ttl).await?))
    }

    /// A presigned GET of object `key`, valid for `ttl`, whose answer carries
    /// `content_disposition`, `content_type` and a private `Cache-Control`
    /// (whatever the uploader's PUT declared) on S3; on OSS only the
    /// disposition (OpenDAL's OSS presign drops the other two overrides).
    /// Manifests have no URL of their own.
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        content_disposition: &str,
        content_type: &str,
    ) -> Result<PresignedUrl, BlobError> {
        let key = confined(key)?;
        if !self.presigns() || is_manifest_key(key) {
            return Err(unsupported("presign this read"));
        }
        let request = self
            .inner
            .op
            .presign_read_with(key, ttl)
            .override_content_disposition(content_disposition)
            .override_content_type(content_type)
            .override_cache_control("private, no-cache")
            .await?;
        Ok(presigned(request))
    }

    /// Copies object `from` to `to` inside the store (S3 CopyObject: no byte
    /// passes through orgdrive). Plain objects only.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let (from, to) = (confined(from)?, confined(to)?);
        if is_manifest_key(from) || is_manifest_key(to) {
            return Err(unsupported("copy a manifest"));
        }
        self.inner.op.copy(from, to).await?;
        self.sync_dirs(to).await
    }

    /// Whether this store's presigned PUTs obey an `x-amz-copy-source`
    /// header their signature does not cover, copying that object. If they
    /// do, anyone holding an upload URL can copy into their upload any
    /// object the store's credentials can read — another org's file whose
    /// key a download URL once showed them, or objects of other buckets —
    /// and commit it as theirs. AWS S3 refuses headers a presigned request
    /// did not sign; s3s-fs 0.14 (the test store) obeys this one. Checked
    /// by a PUT of this node's own under `probes/`: an object written, a
    /// presigned PUT of a second key sent with the header naming the
    /// first, the second read back, both deleted. False on stores that do
    /// not presign, and on OSS (its signature covers every `x-oss-` header
    /// sent: a header added breaks it).
    pub async fn presigned_puts_copy_unsigned_sources(&self) -> Result<bool, BlobError> {
        let Some(composer) = self.inner.composer.as_ref().filter(|_| self.presigns()) else {
            return Ok(false);
        };
        const SOURCE_BYTES: &[u8] = b"orgdrive: a presigned PUT must not copy this object";
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = format!("probes/{nanos}-{}/", std::process::id());
        let (source, target) = (format!("{dir}source"), format!("{dir}target"));
        self.inner.op.write(&source, bytes::Bytes::from_static(SOURCE_BYTES)).await?;
        let copied = async {
            let put = self.presign_put(&target, Duration::from_secs(60)).await?;
            if !composer.put_with_unsigned_copy_source(&put, &source).await? {
                return Ok(false);
            }
            let stat = self.stat(&target).await?;
            Ok(stat.is_some_and(|s| s.size == SOURCE_BYTES.len() as u64))
        }
        .await;
        for key in [&target, &source] {
            if let Err(e) = self.inner.op.delete(key).await {
                tracing::warn!(%key, error = %e, "could not remove a probe object");
            }
        }
        copied
    }

    /// Size and ETag-MD5 of plain object `key`, or `None` if it does not exist.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectStat>, BlobError> {
        let key = confined(key)?;
        match self.inner.op.stat(key).await {
            Ok(meta) if meta.is_dir() => Ok(None),
            Ok(meta) => {
                let etag = meta.etag().map(|e| e.trim_matches('"').to_ascii_lowercase());
                let etag_md5 =
                    etag.filter(|e| e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit()));
                let content_encoding = meta.content_encoding().map(str::to_string);
                Ok(Some(ObjectStat { size: meta.content_length(), etag_md5, content_encoding }))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The MD5 (lower-case hex) of the content at `key` (manifests too),
    /// computed by reading it: for when the store does not tell it.
    pub async fn md5(&self, key: &str) -> Result<String, BlobError> {
        let size = self
            .size(key)
            .await?
            .ok_or_else(|| BlobError(opendal::Error::new(ErrorKind::NotFound, "no such object")))?;
        let mut digest = Md5::new();
        let mut stream = std::pin::pin!(self.read(key, 0..size).await?);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                BlobError(opendal::Error::new(ErrorKind::Unexpected, "reading").set_source(e))
            })?;
            digest.update(&chunk);
        }
        Ok(hex::encode(digest.finalize()))
    }
}

/// The value of a required environment variable (its value is never shown).
fn env_secret(name: &str) -> Result<String, BlobError> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(BlobError(opendal::Error::new(
            ErrorKind::ConfigInvalid,
            format!("{name} is not set in the environment"),
        ))),
    }
}

impl BlobStore {
    /// A store in an S3-compatible bucket; credentials from
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, if set,
    /// `AWS_SESSION_TOKEN` (nothing else: no config files, no instance
    /// metadata). Upload and download URLs are the bucket's presigned URLs.
    pub fn s3(location: &S3Location) -> Result<BlobStore, BlobError> {
        BlobStore::s3_with_waits(location, Waits::default())
    }

    /// [`BlobStore::s3`], its requests waiting at most `waits`.
    pub fn s3_with_waits(location: &S3Location, waits: Waits) -> Result<BlobStore, BlobError> {
        let credential = reqsign::AwsCredential {
            access_key_id: env_secret("AWS_ACCESS_KEY_ID")?,
            secret_access_key: env_secret("AWS_SECRET_ACCESS_KEY")?,
            session_token: std::env::var("AWS_SESSION_TOKEN").ok().filter(|t| !t.is_empty()),
            expires_in: None,
        };
        let mut builder = services::S3::default()
            .bucket(&location.bucket)
            .region(&location.region)
            .access_key_id(&credential.access_key_id)
            .secret_access_key(&credential.secret_access_key)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(token) = &credential.session_token {
            builder = builder.session_token(token);
        }
        if let Some(endpoint) = &location.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(root) = &location.root {
            builder = builder.root(root);
        }
        if !location.path_style {
            builder = builder.enable_virtual_host_style();
        }
        let retries = RetryCount::default();
        let composer = Composer::new(location, credential, waits, retries.clone())?;
        let operator = Operator::new(builder)?
            .layer(own_http_client(waits)?)
            .layer(retry_layer(retries.clone()))
            .finish();
        Ok(BlobStore::remote(operator, Some(composer), S3_MAX_COPY_BYTES, retries))
    }

    /// A store in an Alibaba Cloud OSS bucket; credentials from
    /// `OSS_ACCESS_KEY_ID` and `OSS_ACCESS_KEY_SECRET`.
    pub fn oss(location: &OssLocation) -> Result<BlobStore, BlobError> {
        let mut builder = services::Oss::default()
            .bucket(&location.bucket)
            .endpoint(&location.endpoint)
            .access_key_id(&env_secret("OSS_ACCESS_KEY_ID")?)
            .access_key_secret(&env_secret("OSS_ACCESS_KEY_SECRET")?);
        if let Some(root) = &location.root {
            builder = builder.root(root);
        }
        let retries = RetryCount::default();
        let operator = Operator::new(builder)?
            .layer(own_http_client(Waits::default())?)
            .layer(retry_layer(retries.clone()))
            .finish();
        Ok(BlobStore::remote(operator, None, OSS_MAX_COPY_BYTES, retries))
    }
}

/// An HTTP client of the store's own. OpenDAL's default is one client for
/// the whole process, whose pooled connections belong to the tokio runtime
/// that opened them: a store used from another runtime (tests run one per
/// test; `orgdrive admin` and the server are separate processes, but a
/// library user may not be) then fails with "dispatch task is gone".
/// Its waits are bounded ([`Waits`]), and it tells the retry layer what to
/// send again ([`StoreFetch`]).
fn own_http_client(waits: Waits) -> Result<opendal::layers::HttpClientLayer, BlobError> {
    let client = bounded_http_client(waits).build().map_err(|e| {
        BlobError(opendal::Error::new(ErrorKind::Unexpected, "an HTTP client").set_source(e))
    })?;
    Ok(opendal::layers::HttpClientLayer::new(opendal::raw::HttpClient::with(StoreFetch(client))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presigned_put_never_tells_its_client_a_content_length() {
        // What OpenDAL's OSS presign of a PUT of unknown size carries.
        let oss = [("content-length", "0"), ("content-encoding", "identity")];
        let sent = headers_to_send(oss.into_iter());
        assert_eq!(sent, vec![("content-encoding".to_string(), "identity".to_string())]);
        assert!(headers_to_send([("Content-Length", "7")].into_iter()).is_empty());
    }

    #[test]
    fn only_an_object_without_an_encoding_or_with_identity_is_served_as_is() {
        let stat = |encoding: Option<&str>| ObjectStat {
            size: 1,
            etag_md5: None,
            content_encoding: encoding.map(str::to_string),
        };
        for plain in [None, Some("identity"), Some(" Identity ")] {
            assert!(stat(plain).served_as_is(), "{plain:?}");
        }
        for encoded in ["gzip", "identity, gzip", "aws-chunked", "br", ""] {
            assert!(!stat(Some(encoded)).served_as_is(), "{encoded}");
        }
    }
}
