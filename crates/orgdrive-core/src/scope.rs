//! Permission scopes granted to apps and required by operations (reference §1).

use std::fmt;
use std::str::FromStr;

/// An app-level permission scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    SpaceWrite,
    SpaceRead,
    OrgRead,
    FileWrite,
    FileRead,
    UploadInfoRead,
    DownloadInfoRead,
    PermissionWrite,
    PermissionRead,
    RecycleBinRead,
    RecycleBinWrite,
    TaskRead,
    EventWrite,
}

impl Scope {
    /// Every scope, in reference order.
    pub const ALL: [Scope; 13] = [
        Scope::SpaceWrite,
        Scope::SpaceRead,
        Scope::OrgRead,
        Scope::FileWrite,
        Scope::FileRead,
        Scope::UploadInfoRead,
        Scope::DownloadInfoRead,
        Scope::PermissionWrite,
        Scope::PermissionRead,
        Scope::RecycleBinRead,
        Scope::RecycleBinWrite,
        Scope::TaskRead,
        Scope::EventWrite,
    ];

    /// The scope's DingTalk name, e.g. `Storage.Space.Write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SpaceWrite => "Storage.Space.Write",
            Scope::SpaceRead => "Storage.Space.Read",
            Scope::OrgRead => "Storage.Org.Read",
            Scope::FileWrite => "Storage.File.Write",
            Scope::FileRead => "Storage.File.Read",
            Scope::UploadInfoRead => "Storage.UploadInfo.Read",
            Scope::DownloadInfoRead => "Storage.DownloadInfo.Read",
            Scope::PermissionWrite => "Storage.Permission.Write",
            Scope::PermissionRead => "Storage.Permission.Read",
            Scope::RecycleBinRead => "Storage.RecycleBin.Read",
            Scope::RecycleBinWrite => "Storage.RecycleBin.Write",
            Scope::TaskRead => "Storage.Task.Read",
            Scope::EventWrite => "Storage.Event.Write",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Scope, ()> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("Storage.Space.write".parse::<Scope>().is_err());
    }
}
