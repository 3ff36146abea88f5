//! Input rules shared by operations. Each check names the wire field it
//! judges, so errors come back as `paramError.<field>`.

use crate::{DriveError, DriveResult};

/// Longest display name (spaces, orgs, apps, users, departments), in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest `scene` / `sceneId`, in characters.
pub const MAX_SCENE_CHARS: usize = 64;
/// Longest caller-chosen identifier (appKey, unionId, userId), in characters.
pub const MAX_IDENT_CHARS: usize = 64;

/// A display name: surrounding spaces are stripped; the rest must be 1 to
/// [`MAX_NAME_CHARS`] characters without control characters.
pub fn display_name(field: &str, raw: &str) -> DriveResult<String> {
    let name = raw.trim_matches(' ');
    if name.is_empty() {
        return Err(DriveError::param(field, format!("{field} must not be empty")));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DriveError::param(
            field,
            format!("{field} must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DriveError::param(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_string())
}

/// `scene` / `sceneId`: 1 to [`MAX_SCENE_CHARS`] ASCII letters and digits (reference §5.1).
pub fn scene_token(field: &str, raw: &str) -> DriveResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_SCENE_CHARS
        && raw.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(DriveError::param(
            field,
            format!("{field} must be 1 to {MAX_SCENE_CHARS} ASCII letters and digits"),
        ));
    }
    Ok(raw.to_string())
}

/// A caller-chosen identifier: 1 to [`MAX_IDENT_CHARS`] of `A-Z a-z 0-9 _ -`
/// (never `/`, so it is safe in URL paths).
pub fn identifier(field: &str, raw: &str) -> DriveResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_IDENT_CHARS
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(DriveError::param(
            field,
            format!("{field} must be 1 to {MAX_IDENT_CHARS} of A-Z a-z 0-9 _ -"),
        ));
    }
    Ok(raw.to_string())
}

/// A byte count that must be positive (quotas).
pub fn positive_bytes(field: &str, value: i64) -> DriveResult<i64> {
    if value <= 0 {
        return Err(DriveError::param(
            field,
            format!("{field} must be a positive number of bytes"),
        ));
    }
    Ok(value)
}

/// A batch's ids: 1 to `max` of them.
pub(crate) fn check_ids(field: &str, ids: &[String], max: usize) -> DriveResult<()> {
    if ids.is_empty() || ids.len() > max {
        return Err(DriveError::param(field, format!("{field} must hold 1 to {max} ids")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: DriveError) -> String {
        match e {
            DriveError::InvalidParam { field, .. } => field.unwrap_or_default(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name("name", "  Team drive ").unwrap(), "Team drive");
        assert_eq!(field_of(display_name("name", "   ").unwrap_err()), "name");
        assert_eq!(field_of(display_name("name", "a\tb").unwrap_err()), "name");
        assert!(display_name("name", &"é".repeat(255)).is_ok());
        assert!(display_name("name", &"é".repeat(256)).is_err());
    }

    #[test]
    fn scenes_are_letters_and_digits() {
        assert!(scene_token("scene", "project42").is_ok());
        for bad in ["", "a-b", "a b", "数据", &"a".repeat(65)] {
            assert_eq!(field_of(scene_token("sceneId", bad).unwrap_err()), "sceneId");
        }
    }

    #[test]
    fn identifiers_never_contain_slashes() {
        assert!(identifier("unionId", "abc_DEF-09").is_ok());
        assert!(identifier("unionId", "a/b").is_err());
        assert!(identifier("unionId", "").is_err());
    }

    #[test]
    fn quotas_must_be_positive() {
        assert!(positive_bytes("quota", 1).is_ok());
        assert!(positive_bytes("quota", 0).is_err());
        assert!(positive_bytes("quota", -5).is_err());
    }
}
