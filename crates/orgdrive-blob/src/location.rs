//! Where the content store lives, as given by `--blob`: `fs:///path` or a
//! plain path (the filesystem store), `s3://bucket?endpoint=…&region=…&root=…&path_style=…`
//! or `oss://bucket?endpoint=…&root=…`. Credentials are never part of the
//! URL: they come from the environment when the store is opened
//! ([`BlobLocation::open`]), and no error or log names their values.

use std::path::{Path, PathBuf};

use crate::{BlobError, BlobStore};

/// A parsed `--blob` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// Files under this directory.
    Filesystem(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Location),
    /// An Alibaba Cloud OSS bucket.
    Oss(OssLocation),
}

/// `s3://bucket?...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:59000`;
    /// default: AWS's endpoint of the region.
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    pub region: String,
    /// Key prefix inside the bucket (default: the bucket's root).
    pub root: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`, the default) or, when
    /// false, virtual-hosted style (`bucket.endpoint/key`).
    pub path_style: bool,
    /// `insecure_presigned_puts=true`: the store may be used although its
    /// presigned PUTs obey an `x-amz-copy-source` header their signature
    /// does not cover (checked when a server opens it:
    /// [`BlobStore::presigned_puts_copy_unsigned_sources`]) — for test
    /// stores only (default false).
    pub insecure_presigned_puts: bool,
}

/// `oss://bucket?endpoint=...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssLocation {
    pub bucket: String,
    /// e.g. `https://oss-cn-hangzhou.aliyuncs.com` (required).
    pub endpoint: String,
    pub root: Option<String>,
}

/// Why a `--blob` value was refused (the message never repeats secrets: the
/// URL may not carry any).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--blob: {0}")]
pub struct LocationError(String);

fn refuse(message: impl Into<String>) -> LocationError {
    LocationError(message.into())
}

/// Decodes `%XX` escapes of a query value (`+` stays `+`).
fn percent_decode(value: &str) -> Result<String, LocationError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| refuse("a bad %-escape in the query"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| refuse("the query is not UTF-8"))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, LocationError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(refuse(format!("{name} must be true or false"))),
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), LocationError> {
    let Some(rest) = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://"))
    else {
        return Err(refuse("endpoint must start with http:// or https://"));
    };
    // user:password@host would reach error messages and logs.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(refuse("credentials do not go in the endpoint: set them in the environment"));
    }
    Ok(())
}

impl std::str::FromStr for BlobLocation {
    type Err = LocationError;

    fn from_str(value: &str) -> Result<BlobLocation, LocationError> {
        let Some((scheme, rest)) = value.split_once("://") else {
            if value.is_empty() {
                return Err(refuse("empty"));
            }
            return Ok(BlobLocation::Filesystem(PathBuf::from(value)));
        };
        match scheme {
            "fs" | "file" => {
                if !rest.starts_with('/') {
                    return Err(refuse("fs:// takes an absolute path: fs:///var/lib/orgdrive"));
                }
                Ok(BlobLocation::Filesystem(PathBuf::from(rest)))
            }
            "s3" | "oss" => {
                let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
                if authority.contains('@') {
                    return Err(refuse(
                        "credentials do not go in the URL: set AWS_ACCESS_KEY_ID / \
                         AWS_SECRET_ACCESS_KEY (S3) or OSS_ACCESS_KEY_ID / \
                         OSS_ACCESS_KEY_SECRET (OSS)",
                    ));
                }
                let bucket = authority.trim_end_matches('/');
                let bucket_ok = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)
                    });
                if !bucket_ok {
                    return Err(refuse(
                        "the bucket name must be 3-63 lower-case letters, digits, - or .",
                    ));
                }
                let mut endpoint = None;
                let mut region = None;
                let mut root = None;
                let mut path_style = None;
                let mut insecure_presigned_puts = None;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
                    let value = percent_decode(raw)?;
                    let slot = match name {
                        "endpoint" => &mut endpoint,
                        "region" if scheme == "s3" => &mut region,
                        "root" => &mut root,
                        "path_style" if scheme == "s3" => {
                            path_style = Some(parse_bool(name, &value)?);
                            continue;
                        }
                        "insecure_presigned_puts" if scheme == "s3" => {
                            insecure_presigned_puts = Some(parse_bool(name, &value)?);
                            continue;
                        }
                        _ => {
                            // Also refuses credentials passed as parameters.
                            return Err(refuse(format!("unknown parameter {name:?}")));
                        }
                    };
                    if slot.replace(value).is_some() {
                        return Err(refuse(format!("{name} is given twice")));
                    }
                }
                if let Some(endpoint) = &endpoint {
                    check_endpoint(endpoint)?;
                }
                let root = root.filter(|r| !r.is_empty() && r != "/");
                let bucket = bucket.to_string();
                if scheme == "s3" {
                    Ok(BlobLocation::S3(S3Location {
                        bucket,
                        endpoint,
                        region: region.unwrap_or_else(|| "us-east-1".to_string()),
                        root,
                        path_style: path_style.unwrap_or(true),
                        insecure_presigned_puts: insecure_presigned_puts.unwrap_or(false),
                    }))
                } else {
                    let endpoint =
                        endpoint.ok_or_else(|| refuse("oss:// needs endpoint=https://…"))?;
                    Ok(BlobLocation::Oss(OssLocation { bucket, endpoint, root }))
                }
            }
            other => Err(refuse(format!("unknown scheme {other}:// (fs, s3 or oss)"))),
        }
    }
}

impl BlobLocation {
    /// Whether the location accepts a store whose presigned PUTs obey
    /// headers they did not sign (`insecure_presigned_puts=true`).
    pub fn insecure_presigned_puts(&self) -> bool {
        matches!(self, BlobLocation::S3(s3) if s3.insecure_presigned_puts)
    }

    /// The location's filesystem root, if it is the filesystem store.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            BlobLocation::Filesystem(root) => Some(root),
            _ => None,
        }
    }

    /// Opens the store (credentials of object stores from the environment).
    pub fn open(&self, durable: bool) -> Result<BlobStore, BlobError> {
        match self {
            BlobLocation::Filesystem(root) => BlobStore::filesystem(root, durable),
            BlobLocation::S3(s3) => BlobStore::s3(s3),
            BlobLocation::Oss(oss) => BlobStore::oss(oss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<BlobLocation, LocationError> {
        value.parse()
    }

    #[test]
    fn blob_urls_parse() {
        assert_eq!(parse("/var/x").unwrap(), BlobLocation::Filesystem("/var/x".into()));
        assert_eq!(parse("rel/x").unwrap(), BlobLocation::Filesystem("rel/x".into()));
        assert_eq!(parse("fs:///var/x").unwrap(), BlobLocation::Filesystem("/var/x".into()));
        assert_eq!(
            parse("s3://orgdrive-test?endpoint=http%3A%2F%2F127.0.0.1%3A59000&region=eu-west-1&root=/a/b&path_style=false").unwrap(),
            BlobLocation::S3(S3Location {
                bucket: "orgdrive-test".into(),
                endpoint: Some("http://127.0.0.1:59000".into()),
                region: "eu-west-1".into(),
                root: Some("/a/b".into()),
                path_style: false,
                insecure_presigned_puts: false,
            })
        );
        assert_eq!(
            parse("s3://bkt").unwrap(),
            BlobLocation::S3(S3Location {
                bucket: "bkt".into(),
                endpoint: None,
                region: "us-east-1".into(),
                root: None,
                path_style: true,
                insecure_presigned_puts: false,
            })
        );
        assert_eq!(
            parse("oss://bkt?endpoint=https://oss-cn-hangzhou.aliyuncs.com").unwrap(),
            BlobLocation::Oss(OssLocation {
                bucket: "bkt".into(),
                endpoint: "https://oss-cn-hangzhou.aliyuncs.com".into(),
                root: None,
            })
        );
        for bad in [
            "",
            "fs://relative",
            "ftp://x",
            "s3://AKIA:secret@bkt",
            "s3://bkt?access_key_id=AKIA",
            "s3://bkt?secret_access_key=x",
            "s3://bkt?endpoint=127.0.0.1:9000",
            "s3://bkt?region=a&region=b",
            "s3://bkt?path_style=maybe",
            "s3://bkt?insecure_presigned_puts=maybe",
            "oss://bkt?endpoint=https://x&insecure_presigned_puts=true",
            "s3://bkt?endpoint=%zz",
            "s3://Bad_Bucket",
            "s3://",
            "oss://bkt",
            "oss://bkt?endpoint=https://x&region=r",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // A refusal never repeats a secret passed by mistake.
        let refused = parse("s3://bkt?secret_access_key=hunter2").unwrap_err().to_string();
        assert!(!refused.contains("hunter2"), "{refused}");
        for endpoint in ["http://AK:hunter2@127.0.0.1:1", "https%3A%2F%2Fu%3Ahunter2%40h"] {
            let refused = parse(&format!("s3://bkt?endpoint={endpoint}")).unwrap_err().to_string();
            assert!(!refused.contains("hunter2"), "{refused}");
        }
        let test_store = parse("s3://bkt?insecure_presigned_puts=true").unwrap();
        assert!(test_store.insecure_presigned_puts());
        assert!(!parse("s3://bkt").unwrap().insecure_presigned_puts());
        assert!(
            parse("s3://bkt?endpoint=http://h:9000/p@q").is_ok(),
            "an @ in the path is no userinfo"
        );
    }

    #[test]
    fn missing_credentials_are_named_not_shown() {
        // Only the absence is tested here: setting variables would race
        // other tests of the process.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let location = parse("s3://bkt?endpoint=http://127.0.0.1:1").unwrap();
            let e = location.open(false).unwrap_err().to_string();
            assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        }
        if std::env::var_os("OSS_ACCESS_KEY_ID").is_none() {
            let location = parse("oss://bkt?endpoint=http://127.0.0.1:1").unwrap();
            let e = location.open(false).unwrap_err().to_string();
            assert!(e.contains("OSS_ACCESS_KEY_ID"), "{e}");
        }
    }
}
