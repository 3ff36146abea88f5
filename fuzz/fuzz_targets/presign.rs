//! Signed blob URLs: `Presigner::sign` and `Presigner::verify` on arbitrary
//! keys, requests, clocks and presented signatures.
//!
//! A signature verifies its own request (or is `Expired` once `now` passes
//! `expires`), HEAD verifies as GET, and any change to the request, the secret
//! or the signature is a `Mismatch`. Arbitrary presented signatures never
//! panic and are only accepted if they are the right one. A download's
//! signed size is bound the same way: only the signed size (or its absence
//! for an unsized signature) verifies.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use orgdrive_blob::{Presigner, SignatureError, SignedRequest};
use sha2::{Digest, Sha256};

#[derive(Arbitrary, Debug)]
enum Method<'a> {
    Put,
    Get,
    Head,
    Other(&'a str),
}

impl<'a> Method<'a> {
    fn as_str(&self) -> &'a str {
        match self {
            Method::Put => "PUT",
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Other(m) => m,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Tamper<'a> {
    Method(Method<'a>),
    ObjectKey(&'a str),
    Expires(i64),
    FileName(&'a str),
    Secret(&'a [u8]),
    /// Replaces the hex digit at this index (mod 64) with another one.
    FlipDigit(u8, u8),
    /// Keeps only this many (mod 64) hex digits.
    Truncate(u8),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: &'a [u8],
    method: Method<'a>,
    object_key: &'a str,
    expires: i64,
    file_name: &'a str,
    now: i64,
    presented: &'a str,
    tamper: Tamper<'a>,
    /// A download's signed size, and another one presented with it.
    size: Option<u64>,
    other_size: Option<u64>,
}

/// The 64-byte block HMAC actually keys with: long secrets are hashed, short
/// ones zero-padded, so `b"k"` and `b"k\0"` are the same HMAC key.
fn hmac_block_key(secret: &[u8]) -> Vec<u8> {
    let mut block =
        if secret.len() > 64 { Sha256::digest(secret).to_vec() } else { secret.to_vec() };
    block.resize(64, 0);
    block
}

/// What the signature covers, HEAD being GET.
fn canonical(r: &SignedRequest<'_>) -> (String, String, i64, String) {
    let method = if r.method == "HEAD" { "GET" } else { r.method };
    (method.to_string(), r.object_key.to_string(), r.expires, r.file_name.to_string())
}

fuzz_target!(|input: Input<'_>| {
    let signer = Presigner::new(input.secret);
    let request = SignedRequest {
        method: input.method.as_str(),
        object_key: input.object_key,
        expires: input.expires,
        file_name: input.file_name,
    };
    let now = input.now;
    let expected = if now > request.expires { Err(SignatureError::Expired) } else { Ok(()) };

    // Signatures are deterministic lower-case hex SHA-256 MACs.
    let signature = signer.sign(&request);
    assert_eq!(signature.len(), 64);
    assert!(signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(Presigner::new(input.secret).sign(&request), signature);

    // The signature verifies its own request, in either case of hex.
    assert_eq!(signer.verify(&request, &signature, now), expected);
    assert_eq!(signer.verify(&request, &signature.to_ascii_uppercase(), now), expected);

    // HEAD is verified as GET.
    if request.method == "GET" || request.method == "HEAD" {
        for method in ["GET", "HEAD"] {
            let other = SignedRequest { method, ..request.clone() };
            assert_eq!(signer.verify(&other, &signature, now), expected);
        }
    }

    // Whatever is presented: no panic, accepted only if it is the signature.
    match signer.verify(&request, input.presented, now) {
        Ok(()) => {
            assert!(input.presented.eq_ignore_ascii_case(&signature));
            assert!(now <= request.expires);
        }
        Err(SignatureError::Expired) => {
            assert!(input.presented.eq_ignore_ascii_case(&signature));
            assert!(now > request.expires);
        }
        Err(SignatureError::Mismatch) => {
            assert!(!input.presented.eq_ignore_ascii_case(&signature));
        }
    }

    // Any change is a mismatch: the signed fields are length-prefixed, so
    // they bind whatever bytes they hold.
    let unambiguous = true;
    let mut tampered = request.clone();
    let mut presented = signature.clone();
    let mut verifier = signer.clone();
    let changed = match &input.tamper {
        Tamper::Method(m) => {
            tampered.method = m.as_str();
            canonical(&tampered) != canonical(&request)
        }
        Tamper::ObjectKey(k) => {
            tampered.object_key = k;
            tampered.object_key != request.object_key
        }
        Tamper::Expires(e) => {
            tampered.expires = *e;
            tampered.expires != request.expires
        }
        Tamper::FileName(n) => {
            tampered.file_name = n;
            tampered.file_name != request.file_name
        }
        Tamper::Secret(s) => {
            verifier = Presigner::new(s);
            hmac_block_key(s) != hmac_block_key(input.secret)
        }
        Tamper::FlipDigit(at, by) => {
            let at = usize::from(*at) % 64;
            let digit = u8::from_str_radix(&presented[at..=at], 16).unwrap();
            let flipped = (digit + 1 + by % 15) % 16;
            presented.replace_range(at..=at, &format!("{flipped:x}"));
            true
        }
        Tamper::Truncate(len) => {
            presented.truncate(usize::from(*len) % 64);
            true
        }
    };
    let verdict = verifier.verify(&tampered, &presented, now);
    if changed && unambiguous {
        assert_eq!(verdict, Err(SignatureError::Mismatch), "{tampered:?} {presented}");
    } else if !changed {
        let expected = if now > tampered.expires { Err(SignatureError::Expired) } else { Ok(()) };
        assert_eq!(verdict, expected);
    }

    // The signed size: an unsized signature is the plain one; a sized one
    // verifies with its size only.
    assert_eq!(signer.sign_sized(&request, None), signature);
    let sized = signer.sign_sized(&request, input.size);
    assert_eq!(signer.verify_sized(&request, input.size, &sized, now), expected);
    let verdict = signer.verify_sized(&request, input.other_size, &sized, now);
    if input.other_size == input.size {
        assert_eq!(verdict, expected);
    } else {
        assert_eq!(
            verdict,
            Err(SignatureError::Mismatch),
            "{:?} {:?}",
            input.size,
            input.other_size
        );
    }
});
