//! The blob route's `Range` header parser, `parse_range`, on arbitrary header
//! values and file sizes.
//!
//! Never panics (overflow checks are on); a satisfiable range is a non-empty
//! part of the file whose `Content-Range` is a valid header; well-formed
//! single ranges (`bytes=a-b`, `bytes=a-`, `bytes=-n`) give what RFC 9110
//! §14.1.2 says.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use orgdrive_server::{parse_range, RangeSpec};

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// Any header value.
    Raw { spec: &'a str, size: u64 },
    /// `bytes=<first>-<last>`, optionally with spaces around the parts.
    Single { first: Option<u64>, last: Option<u64>, size: u64, spaced: bool },
    /// Same with a small file, where the edges are.
    Small { first: Option<u8>, last: Option<u8>, size: u8 },
}

/// RFC 9110 for one well-formed range of a `size`-byte file.
fn expected(first: Option<u64>, last: Option<u64>, size: u64) -> RangeSpec {
    match (first, last) {
        (None, None) => RangeSpec::Ignore,
        // Suffix range: the last n bytes; n = 0 or an empty file selects nothing.
        (None, Some(n)) if n == 0 || size == 0 => RangeSpec::Unsatisfiable,
        (None, Some(n)) => RangeSpec::Satisfiable(size - n.min(size)..size),
        (Some(a), Some(b)) if b < a => RangeSpec::Ignore,
        (Some(a), _) if a >= size => RangeSpec::Unsatisfiable,
        (Some(a), None) => RangeSpec::Satisfiable(a..size),
        (Some(a), Some(b)) => RangeSpec::Satisfiable(a..b.min(size - 1) + 1),
    }
}

fn spec_of(first: Option<u64>, last: Option<u64>, spaced: bool) -> String {
    let part = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let pad = if spaced { " " } else { "" };
    format!("{pad}bytes={pad}{}{pad}-{pad}{}{pad}", part(first), part(last))
}

fn check(spec: &str, size: u64) -> RangeSpec {
    let parsed = parse_range(spec, size);
    match &parsed {
        RangeSpec::Satisfiable(r) => {
            assert!(r.start < r.end && r.end <= size, "{spec:?} of {size}: {r:?}");
            // What the route answers with.
            let content_range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            assert!(content_range.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        }
        RangeSpec::Unsatisfiable => {}
        RangeSpec::Ignore => {}
    }
    if !spec.trim().starts_with("bytes=") || spec.contains(',') {
        assert_eq!(parsed, RangeSpec::Ignore, "{spec:?}");
    }
    parsed
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Raw { spec, size } => {
        check(spec, size);
    }
    Input::Single { first, last, size, spaced } => {
        let spec = spec_of(first, last, spaced);
        assert_eq!(check(&spec, size), expected(first, last, size), "{spec:?} of {size}");
    }
    Input::Small { first, last, size } => {
        let (first, last, size) = (first.map(u64::from), last.map(u64::from), u64::from(size));
        let spec = spec_of(first, last, false);
        assert_eq!(check(&spec, size), expected(first, last, size), "{spec:?} of {size}");
    }
});
