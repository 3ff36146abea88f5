//! Where a command-line argument points: a local path, or a path in a space
//! written `SPACE:/path` or `PROFILE:SPACE:/path` (SPACE is the space id,
//! all digits, as DingTalk's and orgdrive's are). DingTalk has no lookup by
//! path, so a remote path is resolved by listing each folder on the way.

use std::path::PathBuf;

use crate::api::Api;
use crate::error::{ClientError, Result};
use crate::model::Dentry;

/// The id of a space's root folder, as a `parentId`.
pub const ROOT_ID: &str = "0";

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Local(PathBuf),
    Remote(RemotePath),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemotePath {
    pub profile: Option<String>,
    pub space_id: String,
    /// Names from the root down; empty for the root.
    pub names: Vec<String>,
}

impl RemotePath {
    pub fn display(&self) -> String {
        let profile = self.profile.as_deref().map(|p| format!("{p}:")).unwrap_or_default();
        format!("{profile}{}:/{}", self.space_id, self.names.join("/"))
    }

    /// The last name, if this is not the root.
    pub fn leaf(&self) -> Option<&str> {
        self.names.last().map(String::as_str)
    }

    pub fn parent(&self) -> RemotePath {
        let mut p = self.clone();
        p.names.pop();
        p
    }

    pub fn child(&self, name: &str) -> RemotePath {
        let mut p = self.clone();
        p.names.push(name.to_string());
        p
    }
}

fn is_space_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_profile_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Reads an argument. Anything that is not `SPACE:...` or
/// `PROFILE:SPACE:...` is a local path (write `./1:x` for a local file
/// whose name looks remote).
pub fn parse(arg: &str) -> Result<Location> {
    let mut parts = arg.splitn(3, ':');
    let (first, second, third) = (parts.next(), parts.next(), parts.next());
    let (profile, space, path) = match (first, second, third) {
        (Some(space), Some(rest), None) if is_space_id(space) => (None, space, rest),
        (Some(space), Some(a), Some(b)) if is_space_id(space) => {
            return remote(None, space, &format!("{a}:{b}"));
        }
        (Some(profile), Some(space), Some(path))
            if is_profile_name(profile) && is_space_id(space) =>
        {
            (Some(profile.to_string()), space, path)
        }
        _ => return Ok(Location::Local(PathBuf::from(arg))),
    };
    remote(profile, space, path)
}

fn remote(profile: Option<String>, space: &str, path: &str) -> Result<Location> {
    let mut names = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                return Err(ClientError::usage(format!(
                    "{path:?}: `..` is not allowed in a remote path"
                )))
            }
            name => names.push(name.to_string()),
        }
    }
    Ok(Location::Remote(RemotePath { profile, space_id: space.to_string(), names }))
}

/// The root folder of a space as a dentry (the API has none to fetch).
pub fn root(space_id: &str) -> Dentry {
    Dentry {
        id: ROOT_ID.to_string(),
        space_id: space_id.to_string(),
        kind: "FOLDER".to_string(),
        path: "/".to_string(),
        ..Dentry::default()
    }
}

/// The child of `parent` named `name`, if there is one.
pub async fn find_child(
    api: &Api,
    space_id: &str,
    parent_id: &str,
    name: &str,
) -> Result<Option<Dentry>> {
    let mut next: Option<String> = None;
    loop {
        let page = api.list_page(space_id, parent_id, next.as_deref()).await?;
        if let Some(hit) = page.dentries.into_iter().find(|d| d.name == name) {
            return Ok(Some(hit));
        }
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => next = Some(t),
            None => return Ok(None),
        }
    }
}

/// The dentry a remote path names, or `None` when nothing has that path.
pub async fn lookup(api: &Api, path: &RemotePath) -> Result<Option<Dentry>> {
    let mut here = root(&path.space_id);
    for name in &path.names {
        if !here.is_folder() {
            return Ok(None);
        }
        match find_child(api, &path.space_id, &here.id, name).await? {
            Some(d) => here = d,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

/// Like [`lookup`], but a missing path is an error naming it.
pub async fn resolve(api: &Api, path: &RemotePath) -> Result<Dentry> {
    lookup(api, path).await?.ok_or_else(|| ClientError::NotFound(path.display()))
}

/// The folder a path names, made (with its missing ancestors) if absent.
pub async fn ensure_folder(api: &Api, path: &RemotePath) -> Result<Dentry> {
    let mut here = root(&path.space_id);
    for name in &path.names {
        here = api.make_folder(&path.space_id, &here.id, name).await?;
        if !here.is_folder() {
            return Err(ClientError::usage(format!("{} is a file, not a folder", here.path)));
        }
    }
    Ok(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote_of(arg: &str) -> RemotePath {
        match parse(arg).unwrap() {
            Location::Remote(r) => r,
            other => panic!("{arg} read as {other:?}"),
        }
    }

    #[test]
    fn remote_paths() {
        let r = remote_of("123:/a/b");
        assert_eq!(
            (r.profile, r.space_id.as_str(), r.names),
            (None, "123", vec!["a".to_string(), "b".into()])
        );
        let r = remote_of("prod:77:docs/x:y.txt");
        assert_eq!(r.profile.as_deref(), Some("prod"));
        assert_eq!(r.names, vec!["docs".to_string(), "x:y.txt".into()]);
        assert_eq!(remote_of("5:").names, Vec::<String>::new());
        assert_eq!(remote_of("5:/./a//").names, vec!["a".to_string()]);
        let r = remote_of("5:a:b");
        assert_eq!((r.profile, r.names), (None, vec!["a:b".to_string()]));
    }

    #[test]
    fn local_paths() {
        for arg in ["./1:x", "/tmp/a", "file.txt", "C:/x", "x:y", "prod:abc:/x", "-:1:/x"] {
            assert_eq!(parse(arg).unwrap(), Location::Local(PathBuf::from(arg)), "{arg}");
        }
    }

    #[test]
    fn parent_segments_are_refused() {
        assert!(parse("5:/a/../b").is_err());
    }
}
