//! File and folder names: `dentry_name` (the naming rule), `split_extension`
//! and `rename_pattern` (AUTO_RENAME) on arbitrary strings.
//!
//! `dentry_name` is checked against an independent model of its documented
//! rule, and the names it accepts are checked to be a fixed point; the
//! extension split and the rename pattern are checked to reassemble the name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgdrive_core::{dentry_name, rename_pattern, split_extension, DriveError};

/// `orgdrive_core::names::MAX_NAME_CHARS`.
const MAX_NAME_CHARS: usize = 255;

/// Code points drawn as nothing, as README's naming rule lists them:
/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt),
/// the braille blank and the interlinear annotation marks.
const BLANK: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];
/// The explicit bidirectional formatting characters.
const BIDI: &[(u32, u32)] = &[(0x202A, 0x202E), (0x2066, 0x2069)];

fn within(ranges: &[(u32, u32)], c: char) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&(c as u32)))
}

/// The rule as documented: surrounding spaces stripped; 1 to 255 characters,
/// not all of them white space or blank, not ending with `.` (so not `.` or
/// `..`), no control character, no bidirectional formatting character,
/// none of `* " < > | / \` and tab.
fn model(raw: &str) -> Option<&str> {
    let name = raw.trim_start_matches(' ').trim_end_matches(' ');
    let chars = name.chars().count();
    let forbidden = |c: char| c.is_control() || "\t*\"<>|/\\".contains(c) || within(BIDI, c);
    let shows = |c: char| !c.is_whitespace() && !within(BLANK, c);
    let valid = (1..=MAX_NAME_CHARS).contains(&chars)
        && name.chars().any(shows)
        && !name.ends_with('.')
        && name != "."
        && name != ".."
        && !name.chars().any(forbidden);
    valid.then_some(name)
}

fuzz_target!(|input: (bool, &str)| {
    let (is_folder, raw) = input;

    // The naming rule.
    match dentry_name("name", raw) {
        Ok(name) => {
            assert_eq!(Some(name.as_str()), model(raw), "accepted {raw:?}");
            assert!(!name.starts_with(' ') && !name.ends_with(' '));
            // Accepted names are accepted again, unchanged.
            assert_eq!(dentry_name("name", &name).ok().as_deref(), Some(name.as_str()));
        }
        Err(DriveError::InvalidParam { field, message }) => {
            assert_eq!(model(raw), None, "refused {raw:?}: {message}");
            assert_eq!(field.as_deref(), Some("name"));
            assert!(message.starts_with("name "), "{message:?}");
        }
        Err(other) => panic!("{raw:?}: not a parameter error: {other:?}"),
    }

    // The extension split reassembles the name; a leading dot is no extension.
    let (stem, ext) = split_extension(raw);
    match ext {
        Some(ext) => {
            assert!(!stem.is_empty() && !ext.is_empty() && !ext.contains('.'));
            assert_eq!(format!("{stem}.{ext}"), raw);
        }
        None => {
            assert_eq!(stem, raw);
            if let Some(dot) = raw.rfind('.') {
                assert!(dot == 0 || dot + 1 == raw.len(), "{raw:?} has an extension");
            }
        }
    }

    // The AUTO_RENAME pattern: `prefix + k + suffix` is the name with `(k)`
    // before a file's extension (or at the end), the stem shortened if needed.
    let (prefix, suffix) = rename_pattern(raw, is_folder);
    assert!(prefix.ends_with('(') && suffix.starts_with(')'));
    assert!(raw.starts_with(&prefix[..prefix.len() - 1]));
    assert!(raw.ends_with(&suffix[1..]));
    if is_folder {
        assert_eq!(suffix, ")");
    }

    // A renamed valid name is valid, within the length limit, and for files
    // keeps a short extension.
    if let Ok(name) = dentry_name("name", raw) {
        let (prefix, suffix) = rename_pattern(&name, is_folder);
        for k in [1u32, 9, 10, 999_999] {
            let candidate = format!("{prefix}{k}{suffix}");
            assert!(candidate.chars().count() <= MAX_NAME_CHARS, "{candidate:?}");
            let checked = dentry_name("name", &candidate);
            assert_eq!(checked.ok().as_deref(), Some(candidate.as_str()), "from {name:?}");
            let ext = split_extension(&name).1.filter(|e| e.chars().count() <= 32);
            if !is_folder && ext.is_some() {
                assert_eq!(split_extension(&candidate).1, ext);
            }
        }
    }
});
