//! Profiles: where a command connects and as whom. The config file
//! (`$ODC_CONFIG`, default `$XDG_CONFIG_HOME/orgdrive/client.json` or
//! `~/.config/orgdrive/client.json`) names profiles; environment variables
//! (`ODC_ENDPOINT`, `ODC_APP_KEY`, `ODC_APP_SECRET`, `ODC_UNION_ID`) override
//! the chosen one's fields, or make a whole profile without a file.
//! The file holds app secrets: it is written readable by its owner only, and
//! a file that others can read is refused (as ssh refuses such a key).
//! Cached access tokens and interrupted uploads live in the state directory
//! next to it (`tokens.json`, `uploads/`), private in the same way.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};

/// DingTalk's own endpoint: the default when a profile names none.
pub const DINGTALK_ENDPOINT: &str = "https://api.dingtalk.com";

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub union_id: Option<String>,
    /// Spaces this profile created or used: DingTalk has no operation that
    /// lists spaces, so `odc spaces ls` lists these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spaces: Vec<String>,
}

/// A profile with every field it needs to call the API.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub profile: String,
    pub endpoint: String,
    pub app_key: String,
    pub app_secret: String,
    pub union_id: String,
}

#[derive(Serialize, Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The config file and the state directory of one user.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
}

impl Config {
    pub fn locate(explicit: Option<PathBuf>) -> Result<Config> {
        if let Some(path) = explicit.or_else(|| std::env::var_os("ODC_CONFIG").map(PathBuf::from)) {
            return Ok(Config { path });
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .ok_or_else(|| {
                ClientError::usage("neither HOME nor XDG_CONFIG_HOME is set; pass --config")
            })?;
        Ok(Config { path: base.join("orgdrive").join("client.json") })
    }

    /// The directory of the config file, which also holds the client's state.
    pub fn dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn read(&self) -> Result<ConfigFile> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(e) => return Err(e.into()),
        };
        let mode = std::fs::metadata(&self.path)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(ClientError::usage(format!(
                "{} holds app secrets but others may read it (mode {:o}); run chmod 600 on it",
                self.path.display(),
                mode & 0o777
            )));
        }
        serde_json::from_str(&text).map_err(|e| {
            ClientError::usage(format!("{} is not a client config: {e}", self.path.display()))
        })
    }

    pub fn write(&self, file: &ConfigFile) -> Result<()> {
        let text =
            serde_json::to_vec_pretty(file).map_err(|e| ClientError::usage(e.to_string()))?;
        write_private(&self.path, &text, Flush::Durable)
    }

    /// The named profile (or `$ODC_PROFILE`, or the default one) with the
    /// environment's overrides, complete or refused naming what is missing.
    pub fn credentials(&self, name: Option<&str>) -> Result<Credentials> {
        let file = self.read()?;
        let env_name = std::env::var("ODC_PROFILE").ok().filter(|v| !v.is_empty());
        let name = name
            .map(str::to_string)
            .or(env_name)
            .or_else(|| file.default_profile.clone())
            .unwrap_or_else(|| "default".to_string());
        let mut profile = file.profiles.get(&name).cloned().unwrap_or_default();
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("ODC_ENDPOINT") {
            profile.endpoint = Some(v);
        }
        if let Some(v) = env("ODC_APP_KEY") {
            profile.app_key = Some(v);
        }
        if let Some(v) = env("ODC_APP_SECRET") {
            profile.app_secret = Some(v);
        }
        if let Some(v) = env("ODC_UNION_ID") {
            profile.union_id = Some(v);
        }
        let missing = |what: &str, var: &str| {
            ClientError::usage(format!(
                "profile {name:?} has no {what}: run `odc profile set {name} ...` or set {var}"
            ))
        };
        Ok(Credentials {
            endpoint: profile
                .endpoint
                .unwrap_or_else(|| DINGTALK_ENDPOINT.to_string())
                .trim_end_matches('/')
                .to_string(),
            app_key: profile.app_key.ok_or_else(|| missing("appKey", "ODC_APP_KEY"))?,
            app_secret: profile.app_secret.ok_or_else(|| missing("appSecret", "ODC_APP_SECRET"))?,
            union_id: profile.union_id.ok_or_else(|| missing("unionId", "ODC_UNION_ID"))?,
            profile: name,
        })
    }

    /// Remembers a space under a profile (for `odc spaces ls`); a profile
    /// that lives only in the environment remembers nothing.
    pub fn remember_space(&self, profile: &str, space_id: &str) -> Result<()> {
        let mut file = self.read()?;
        let Some(entry) = file.profiles.get_mut(profile) else { return Ok(()) };
        if entry.spaces.iter().any(|s| s == space_id) {
            return Ok(());
        }
        entry.spaces.push(space_id.to_string());
        self.write(&file)
    }
}

/// How far [`write_private`] takes the bytes before the rename.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flush {
    /// Fsynced: they survive a power loss (profiles).
    Durable,
    /// Left to the page cache: they survive the process. For state that is
    /// cheap to lose: cached tokens, and an upload's progress, saved after
    /// every part (an fsync there competed with the upload for the disk).
    Cached,
}

/// Writes `bytes` to `path` readable by its owner only, atomically (a
/// temporary file renamed over it), creating private parent directories.
pub fn write_private(path: &Path, bytes: &[u8], flush: Flush) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("odc");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    if flush == Flush::Durable {
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_is_private_and_readable_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { path: dir.path().join("sub/client.json") };
        let mut file = ConfigFile::default();
        file.profiles.insert(
            "local".into(),
            Profile {
                endpoint: Some("http://127.0.0.1:1/".into()),
                app_key: Some("k".into()),
                app_secret: Some("s".into()),
                union_id: Some("u".into()),
                spaces: vec![],
            },
        );
        config.write(&file).unwrap();
        let mode = std::fs::metadata(&config.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(config.dir()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let creds = config.credentials(Some("local")).unwrap();
        assert_eq!(creds.endpoint, "http://127.0.0.1:1");
        assert_eq!(creds.app_secret, "s");
        config.remember_space("local", "42").unwrap();
        config.remember_space("local", "42").unwrap();
        assert_eq!(config.read().unwrap().profiles["local"].spaces, vec!["42".to_string()]);
    }

    #[test]
    fn a_config_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { path: dir.path().join("client.json") };
        config.write(&ConfigFile::default()).unwrap();
        std::fs::set_permissions(&config.path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = config.read().unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn an_incomplete_profile_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { path: dir.path().join("client.json") };
        let mut file = ConfigFile::default();
        file.profiles
            .insert("p".into(), Profile { app_key: Some("k".into()), ..Profile::default() });
        config.write(&file).unwrap();
        let err = config.credentials(Some("p")).unwrap_err();
        assert!(err.to_string().contains("appSecret"), "{err}");
    }
}
