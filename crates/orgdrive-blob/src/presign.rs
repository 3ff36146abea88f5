//! Signed URLs for orgdrive's own blob route: an HMAC-SHA256 over the method,
//! the object key, the expiry, the file name offered to the downloader and,
//! for download URLs, the object's size (so that a GET needs not ask the
//! store for it). Anything changed in the URL, a wrong method or a passed
//! expiry is refused.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies blob URLs with one secret. It keeps the HMAC keyed
/// once (no allocation when cloned, no key schedule per URL).
#[derive(Clone)]
pub struct Presigner {
    keyed: HmacSha256,
}

/// The signed parts of a blob request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    /// `PUT` or `GET` (HEAD is verified as GET).
    pub method: &'a str,
    pub object_key: &'a str,
    /// Unix seconds after which the URL is refused.
    pub expires: i64,
    /// File name for `Content-Disposition` (downloads); empty for uploads.
    pub file_name: &'a str,
}

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature does not match the request")]
    Mismatch,
    #[error("the signed URL has expired")]
    Expired,
}

impl Presigner {
    pub fn new(key: &[u8]) -> Presigner {
        Presigner { keyed: HmacSha256::new_from_slice(key).expect("HMAC takes any key length") }
    }

    fn mac(&self, request: &SignedRequest<'_>, size: Option<u64>) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        let method = if request.method == "HEAD" { "GET" } else { request.method };
        // Each field is length-prefixed, so no two requests share a message;
        // a signed size is a fifth field, so a URL with a size and one
        // without never share a message either.
        let size = size.map(|s| s.to_string());
        let expires = request.expires.to_string();
        let fields = [method, request.object_key, &expires, request.file_name];
        for part in fields.into_iter().chain(size.as_deref()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// Lower-case hex signature of the request.
    pub fn sign(&self, request: &SignedRequest<'_>) -> String {
        self.sign_sized(request, None)
    }

    /// Lower-case hex signature of the request and, if given, of the size of
    /// the object it reads (download URLs).
    pub fn sign_sized(&self, request: &SignedRequest<'_>, size: Option<u64>) -> String {
        hex::encode(self.mac(request, size).finalize().into_bytes())
    }

    /// Checks `signature` (constant time) and then the expiry against `now` (Unix seconds).
    pub fn verify(
        &self,
        request: &SignedRequest<'_>,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        self.verify_sized(request, None, signature, now)
    }

    /// [`Presigner::verify`] for a signature made by [`Presigner::sign_sized`]
    /// with `size`: a signature made with another size, or without one when
    /// `size` is given (or the reverse), is a mismatch.
    pub fn verify_sized(
        &self,
        request: &SignedRequest<'_>,
        size: Option<u64>,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let given = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
        self.mac(request, size).verify_slice(&given).map_err(|_| SignatureError::Mismatch)?;
        if now > request.expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, expires: i64) -> SignedRequest<'_> {
        SignedRequest { method: "PUT", object_key: key, expires, file_name: "" }
    }

    #[test]
    fn signatures_bind_method_key_expiry_and_name() {
        let signer = Presigner::new(b"secret");
        let sig = signer.sign(&put("objects/a", 100));
        assert_eq!(signer.verify(&put("objects/a", 100), &sig, 50), Ok(()));
        assert_eq!(signer.verify(&put("objects/b", 100), &sig, 50), Err(SignatureError::Mismatch));
        assert_eq!(signer.verify(&put("objects/a", 101), &sig, 50), Err(SignatureError::Mismatch));
        let get = SignedRequest { method: "GET", ..put("objects/a", 100) };
        assert_eq!(signer.verify(&get, &sig, 50), Err(SignatureError::Mismatch));
        let named = SignedRequest { file_name: "x.txt", ..put("objects/a", 100) };
        assert_eq!(signer.verify(&named, &sig, 50), Err(SignatureError::Mismatch));
        assert_eq!(signer.verify(&put("objects/a", 100), "zz", 50), Err(SignatureError::Mismatch));
        assert_eq!(signer.verify(&put("objects/a", 100), &sig, 101), Err(SignatureError::Expired));
        assert_ne!(Presigner::new(b"other").sign(&put("objects/a", 100)), sig);
        // Field boundaries are part of the message.
        let shifted =
            SignedRequest { method: "PUT", object_key: "objects/a\n1", expires: 0, file_name: "" };
        let other =
            SignedRequest { method: "PUT", object_key: "objects/a", expires: 10, file_name: "" };
        assert_ne!(signer.sign(&shifted), signer.sign(&other));
    }

    #[test]
    fn sized_signatures_bind_the_size() {
        let signer = Presigner::new(b"secret");
        let get =
            SignedRequest { method: "GET", object_key: "objects/a", expires: 100, file_name: "a" };
        let sized = signer.sign_sized(&get, Some(4096));
        assert_eq!(signer.verify_sized(&get, Some(4096), &sized, 50), Ok(()));
        let head = SignedRequest { method: "HEAD", ..get.clone() };
        assert_eq!(signer.verify_sized(&head, Some(4096), &sized, 50), Ok(()));
        for other in [Some(4095), Some(4097), Some(0), Some(u64::MAX), None] {
            assert_eq!(
                signer.verify_sized(&get, other, &sized, 50),
                Err(SignatureError::Mismatch),
                "{other:?}"
            );
        }
        assert_eq!(signer.verify(&get, &sized, 50), Err(SignatureError::Mismatch));
        // Without a size, the signature is the one of earlier URLs.
        let unsized_sig = signer.sign(&get);
        assert_eq!(signer.sign_sized(&get, None), unsized_sig);
        assert_eq!(signer.verify_sized(&get, None, &unsized_sig, 50), Ok(()));
        assert_eq!(
            signer.verify_sized(&get, Some(4096), &unsized_sig, 50),
            Err(SignatureError::Mismatch)
        );
        // The size is a field of its own: it cannot be moved into the name.
        let renamed = SignedRequest { file_name: "", ..get.clone() };
        assert_ne!(signer.sign_sized(&renamed, Some(1)), signer.sign(&get));
        assert_eq!(
            signer.verify_sized(&get, Some(4096), &sized, 101),
            Err(SignatureError::Expired)
        );
    }
}
