//! Names of files and folders: the naming rule, the AUTO_RENAME pattern, and
//! what a name says about the file (extension, category, content type).

use orgdrive_store::MAX_RENAME_COUNTER;

use crate::{DriveError, DriveResult};

/// Longest file or folder name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Deepest place of a dentry: its path has at most this many names (the
/// root's children have 1), i.e. folders nest 63 deep under the root.
pub const MAX_PATH_DEPTH: usize = 64;
/// Longest path (`/a/b/name`), in characters: what desktop clients can hold
/// (macOS `PATH_MAX` is 1024 bytes; Windows needs long-path support past
/// 260) and what keeps a 50-entry listing page under about 300 KB.
pub const MAX_PATH_CHARS: usize = 1024;

/// Longer "extensions" are not kept apart by AUTO_RENAME.
const MAX_EXTENSION_CHARS: usize = 32;

const FORBIDDEN: &[char] = &['\t', '*', '"', '<', '>', '|', '/', '\\'];

/// Whether `c` is an explicit bidirectional formatting character (U+202A–E,
/// U+2066–9): it reorders what follows it, so that `invoice\u{202E}fdp.exe`
/// shows as `invoiceexe.pdf` ("Trojan Source", CVE-2021-42574; rustc
/// refuses them in literals for the same reason). Right-to-left names need
/// none of them: the bidirectional algorithm orders them unaided.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` shows as nothing: white space of any script, a
/// default-ignorable code point (Unicode's `Default_Ignorable_Code_Point`:
/// soft hyphen, zero-width space and joiners, direction marks, Hangul
/// fillers, variation selectors, tags, byte order mark…), the braille
/// blank or an interlinear annotation mark.
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Applies the naming rule: surrounding spaces are stripped; the rest must be
/// 1 to [`MAX_NAME_CHARS`] characters, not all of them blank ([`is_blank`]:
/// a name that shows as nothing), not `.` or `..`, not end with `.`, and
/// contain no control character, no bidirectional formatting character
/// ([`is_bidi_control`]), nor any of `* " < > | / \` and tab.
pub fn dentry_name(field: &str, raw: &str) -> DriveResult<String> {
    let name = raw.trim_matches(' ');
    let problem = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("must be at most {MAX_NAME_CHARS} characters"))
    } else if name.chars().all(is_blank) {
        Some("must not be only blank or invisible characters".to_string())
    } else if name.ends_with('.') {
        Some("must not end with '.'".to_string())
    } else {
        let forbidden =
            name.chars().find(|&c| FORBIDDEN.contains(&c) || c.is_control() || is_bidi_control(c));
        forbidden.map(|c| format!("must not contain {c:?}"))
    };
    match problem {
        Some(problem) => Err(DriveError::param(field, format!("{field} {problem}"))),
        None => Ok(name.to_string()),
    }
}

/// Checks that `name` may be created in the folder at `parent_path` (`""`
/// for the root, else `/a/b`): at most [`MAX_PATH_DEPTH`] names deep
/// (`paramError.parentId`) and [`MAX_PATH_CHARS`] long (`paramError.name`).
pub fn check_placement(parent_path: &str, name: &str) -> DriveResult<()> {
    let depth = parent_path.matches('/').count() + 1;
    if depth > MAX_PATH_DEPTH {
        return Err(DriveError::param(
            "parentId",
            format!("folders nest at most {} deep", MAX_PATH_DEPTH - 1),
        ));
    }
    let chars = parent_path.chars().count() + 1 + name.chars().count();
    if chars > MAX_PATH_CHARS {
        return Err(DriveError::param(
            "name",
            format!("the path would have {chars} characters; at most {MAX_PATH_CHARS} are allowed"),
        ));
    }
    Ok(())
}

/// Splits `name` into stem and extension (`"a.tar.gz"` → `("a.tar", Some("gz"))`).
/// A leading dot (`.profile`) is part of the stem.
pub fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && dot + 1 < name.len() => (&name[..dot], Some(&name[dot + 1..])),
        _ => (name, None),
    }
}

/// The AUTO_RENAME pattern: `name(k).ext` for files, `name(k)` for folders,
/// as a (prefix, suffix) pair around k. The stem is shortened when needed so
/// that every candidate up to k = [`MAX_RENAME_COUNTER`] stays within
/// [`MAX_NAME_CHARS`].
pub fn rename_pattern(name: &str, is_folder: bool) -> (String, String) {
    let (stem, ext) = match split_extension(name) {
        (stem, Some(ext)) if !is_folder && ext.chars().count() <= MAX_EXTENSION_CHARS => {
            (stem, format!(").{ext}"))
        }
        _ => (name, ")".to_string()),
    };
    let counter_chars = MAX_RENAME_COUNTER.to_string().len();
    let room = MAX_NAME_CHARS - counter_chars - 1 - ext.chars().count();
    let stem: String = stem.chars().take(room).collect();
    (format!("{stem}("), ext)
}

/// The dentry `category` of a file name (reference §2).
pub fn category(name: &str) -> &'static str {
    let ext = split_extension(name).1.unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "bmp" | "webp" | "heic" | "heif" | "svg" | "tif"
        | "tiff" | "ico" => "IMAGE",
        "mp4" | "mov" | "avi" | "mkv" | "wmv" | "flv" | "webm" | "m4v" | "3gp" | "mpeg" | "mpg" => {
            "VIDEO"
        }
        "mp3" | "wav" | "flac" | "aac" | "ogg" | "m4a" | "wma" | "amr" | "opus" => "AUDIO",
        "zip" | "rar" | "7z" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" => "ARCHIVE",
        "doc" | "docx" | "xls" | "xlsx" | "ppt" | "pptx" | "pdf" | "txt" | "md" | "csv" | "rtf"
        | "odt" | "ods" | "odp" | "wps" | "et" | "dps" | "pages" | "numbers" | "key" => "DOCUMENT",
        "adoc" | "axls" | "appt" => "ALI_DOC",
        "lnk" | "url" => "SHORTCUT",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_bounded_in_depth_and_length() {
        assert!(check_placement("", "a").is_ok());
        let deepest_parent = "/d".repeat(MAX_PATH_DEPTH - 1);
        assert!(check_placement(&deepest_parent, "x").is_ok());
        let too_deep = "/d".repeat(MAX_PATH_DEPTH);
        let err = check_placement(&too_deep, "x").unwrap_err();
        assert!(matches!(err, DriveError::InvalidParam { field: Some(f), .. } if f == "parentId"));
        let long_parent = format!("/{}", "p".repeat(MAX_PATH_CHARS - 3));
        assert!(check_placement(&long_parent, "n").is_ok(), "exactly {MAX_PATH_CHARS}");
        let err = check_placement(&long_parent, "nn").unwrap_err();
        assert!(matches!(err, DriveError::InvalidParam { field: Some(f), .. } if f == "name"));
        // Characters, not bytes.
        assert!(check_placement(&format!("/{}", "报".repeat(500)), &"告".repeat(500)).is_ok());
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(dentry_name("name", "  report.pdf ").unwrap(), "report.pdf");
        assert_eq!(dentry_name("name", "数据 2024").unwrap(), "数据 2024");
        for bad in [
            "", "   ", ".", "..", "a.", "a\tb", "a*b", "a\"b", "a<b", "a>b", "a|b", "a/b", "a\\b",
            "a\u{1}b", "a\nb",
        ] {
            assert!(dentry_name("name", bad).is_err(), "{bad:?} must be refused");
        }
        // Names that show as nothing, and names reordered by bidirectional
        // formatting characters.
        for bad in [
            "\u{A0}",
            " \u{3000} ",
            "\u{200B}",
            "\u{FEFF}\u{2060}",
            "\u{AD}",
            "\u{A0}\u{200D}\u{A0}",
            "invoice\u{202E}fdp.exe",
            "a\u{202A}b",
            "a\u{202D}b",
            "\u{2066}a\u{2069}",
            "a\u{2068}",
            "\u{3164}",
            "\u{FFA0}\u{115F}\u{1160}",
            "\u{2800}",
            "\u{FE0F}",
            "\u{E0020}",
            "\u{061C}",
            "\u{206A}\u{206F}",
            "\u{2065}",
            "\u{17B4}",
            "\u{180B}",
            "\u{1D173}",
            "\u{1BCA0}",
            "\u{FFF9}",
        ] {
            let err = dentry_name("name", bad).unwrap_err();
            assert!(matches!(&err, DriveError::InvalidParam { field: Some(f), .. } if f == "name"));
        }
        // Such characters inside a visible name, and right-to-left scripts,
        // are names.
        for good in [
            "a\u{A0}b",
            "x\u{200D}y",
            "\u{FEFF}a",
            "שלום.txt",
            "تقرير 2024.pdf",
            "a\u{200F}b",
            "👨\u{200D}👩\u{200D}👧",
            "❤\u{FE0F}",
            "한국어",
            "日本語",
            "cafe\u{301}",
            "\u{301}",
        ] {
            assert_eq!(dentry_name("name", good).unwrap(), good, "{good:?} is a name");
        }
        assert!(dentry_name("name", &"x".repeat(255)).is_ok());
        assert!(dentry_name("name", &"x".repeat(256)).is_err());
    }

    #[test]
    fn auto_rename_keeps_the_extension() {
        assert_eq!(rename_pattern("a.txt", false), ("a(".into(), ").txt".into()));
        assert_eq!(rename_pattern("a.tar.gz", false), ("a.tar(".into(), ").gz".into()));
        assert_eq!(rename_pattern("notes", false), ("notes(".into(), ")".into()));
        assert_eq!(rename_pattern(".env", false), (".env(".into(), ")".into()));
        assert_eq!(rename_pattern("v1.2", true), ("v1.2(".into(), ")".into()));
    }

    #[test]
    fn auto_rename_stays_within_the_length_limit() {
        for name in
            ["x".repeat(255), format!("{}.txt", "y".repeat(251)), format!("a.{}", "e".repeat(253))]
        {
            for is_folder in [true, false] {
                let (prefix, suffix) = rename_pattern(&name, is_folder);
                let longest = format!("{prefix}{MAX_RENAME_COUNTER}{suffix}");
                assert!(longest.chars().count() <= MAX_NAME_CHARS, "{longest}");
                assert!(dentry_name("name", &longest).is_ok());
            }
        }
        let (prefix, suffix) = rename_pattern(&format!("{}.txt", "y".repeat(251)), false);
        assert!(suffix == ").txt" && prefix.ends_with("y("));
    }

    #[test]
    fn categories_follow_the_extension() {
        assert_eq!(category("a.PNG"), "IMAGE");
        assert_eq!(category("a.docx"), "DOCUMENT");
        assert_eq!(category("a.zip"), "ARCHIVE");
        assert_eq!(category("a"), "OTHER");
    }
}
