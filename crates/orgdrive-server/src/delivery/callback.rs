//! DingTalk's encrypted HTTP callback format, and pushing one event to an
//! app's callback URL. The plaintext is 16 random bytes, the message's
//! length (4 bytes, big-endian), the message, the owner key (the appKey),
//! padded PKCS#7-style to a multiple of 32 bytes; AES-256-CBC with the key
//! `base64(aesKey + "=")` and its first 16 bytes as IV; base64. The
//! signature is the SHA-1 hex of token, timestamp, nonce and ciphertext,
//! sorted and joined. The receiver answers the word `success` encrypted and
//! signed the same way; anything else is a failed delivery.

use std::time::Duration;

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use futures::StreamExt;
use orgdrive_core::{now_ms, random_token, CallbackRecord};
use rand::RngCore;
use sha1::{Digest, Sha1};

use crate::wire::CallbackAnswer;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// The padding block: DingTalk pads to 32 bytes, not AES's 16.
const PAD_BLOCK: usize = 32;
/// How long a receiver may take to answer a push.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from a receiver.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Decodes an aesKey as DingTalk's own libraries do: 43 characters whose
/// last one may carry bits past the key's 32 bytes (they are dropped).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn key_of(aes_key: &str) -> Result<[u8; 32], String> {
    let raw = LENIENT.decode(format!("{aes_key}=")).map_err(|_| "the aesKey is not base64")?;
    raw.try_into().map_err(|_| "the aesKey is not 32 bytes".to_string())
}

/// Encrypts `message` for the receiver whose key and owner key these are.
pub fn encrypt(aes_key: &str, owner_key: &str, message: &str) -> Result<String, String> {
    let key = key_of(aes_key)?;
    let mut plain = Vec::with_capacity(20 + message.len() + owner_key.len() + PAD_BLOCK);
    let mut random = [0u8; 16];
    rand::rng().fill_bytes(&mut random);
    plain.extend_from_slice(&random);
    let length = u32::try_from(message.len()).map_err(|_| "the message is too long")?;
    plain.extend_from_slice(&length.to_be_bytes());
    plain.extend_from_slice(message.as_bytes());
    plain.extend_from_slice(owner_key.as_bytes());
    let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let length = plain.len();
    let cipher = Encryptor::new(&key.into(), key[..16].into())
        .encrypt_padded_mut::<NoPadding>(&mut plain, length)
        .map_err(|_| "encryption failed")?
        .to_vec();
    Ok(BASE64.encode(cipher))
}

/// Decrypts a ciphertext: the message and the owner key it carries.
pub fn decrypt(aes_key: &str, encrypted: &str) -> Result<(String, String), String> {
    let key = key_of(aes_key)?;
    let mut data = BASE64.decode(encrypted).map_err(|_| "the ciphertext is not base64")?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err("the ciphertext is not whole blocks".into());
    }
    let plain = Decryptor::new(&key.into(), key[..16].into())
        .decrypt_padded_mut::<NoPadding>(&mut data)
        .map_err(|_| "decryption failed")?;
    let pad = *plain.last().ok_or("empty plaintext")? as usize;
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err("bad padding".into());
    }
    let plain = &plain[..plain.len() - pad];
    if plain.len() < 20 {
        return Err("the plaintext is too short".into());
    }
    let length = u32::from_be_bytes(plain[16..20].try_into().expect("4 bytes")) as usize;
    let rest = &plain[20..];
    if length > rest.len() {
        return Err("the message length is wrong".into());
    }
    let message = std::str::from_utf8(&rest[..length]).map_err(|_| "the message is not UTF-8")?;
    let owner = std::str::from_utf8(&rest[length..]).map_err(|_| "the owner key is not UTF-8")?;
    Ok((message.to_owned(), owner.to_owned()))
}

/// The signature of a push or an answer.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypted: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypted];
    parts.sort_unstable();
    hex_lower(&Sha1::digest(parts.concat().as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// POSTs `message` (JSON text) to the app's callback; `Ok` once the
/// receiver answered the signed, encrypted `success`. An error says why in
/// words that hold no secret.
pub async fn push(
    http: &reqwest::Client,
    callback: &CallbackRecord,
    message: &str,
) -> Result<(), String> {
    let encrypted = encrypt(&callback.aes_key, &callback.owner_key, message)?;
    let timestamp = now_ms().to_string();
    let nonce = random_token()[..8].to_owned();
    let signed = signature(&callback.token, &timestamp, &nonce, &encrypted);
    let response = http
        .post(&callback.url)
        .query(&[("msg_signature", &signed), ("timestamp", &timestamp), ("nonce", &nonce)])
        .json(&serde_json::json!({ "encrypt": encrypted }))
        .timeout(PUSH_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("the callback URL could not be reached: {}", without_url(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the receiver answered HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("reading the answer failed: {}", without_url(&e)))?;
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the receiver's answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    let answer: CallbackAnswer =
        serde_json::from_slice(&body).map_err(|_| "the receiver's answer is not JSON")?;
    let (Some(sig), Some(ts), Some(nonce), Some(encrypted)) =
        (answer.msg_signature, answer.time_stamp, answer.nonce, answer.encrypt)
    else {
        return Err("the receiver's answer lacks msg_signature, timeStamp, nonce or encrypt".into());
    };
    if signature(&callback.token, &ts, &nonce, &encrypted) != sig {
        return Err("the receiver's answer is not signed with the token".into());
    }
    let (word, owner) = decrypt(&callback.aes_key, &encrypted)?;
    if word != "success" || owner != callback.owner_key {
        return Err("the receiver did not answer success".into());
    }
    Ok(())
}

/// A transport error's text without its URL (a URL may carry secrets).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // DingTalk's published test vector (its crypto samples).
    const TOKEN: &str = "mryue";
    const AES_KEY: &str = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7";
    const OWNER: &str = "ding6ccabc44d2c8d38b";
    const ENCRYPTED: &str = "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3";

    #[test]
    fn the_published_vector_decrypts_and_its_signature_matches() {
        let (message, owner) = decrypt(AES_KEY, ENCRYPTED).unwrap();
        assert_eq!(message, r#"{"EventType":"check_url"}"#);
        assert_eq!(owner, OWNER);
        assert_eq!(
            signature(TOKEN, "1608001896814", "WL4PK6yA", ENCRYPTED),
            "03044561471240d4a14bb09372dfcfd4fd0e40cb"
        );
    }

    #[test]
    fn what_is_encrypted_decrypts_padded_to_32_bytes() {
        for message in ["", "success", &"x".repeat(1000), "日本語"] {
            let encrypted = encrypt(AES_KEY, OWNER, message).unwrap();
            assert_eq!(BASE64.decode(&encrypted).unwrap().len() % 32, 0);
            assert_eq!(decrypt(AES_KEY, &encrypted).unwrap(), (message.into(), OWNER.into()));
        }
        // Random bytes first: the same message encrypts differently.
        assert_ne!(encrypt(AES_KEY, OWNER, "a").unwrap(), encrypt(AES_KEY, OWNER, "a").unwrap());
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for bad in ["", "!!!", "AAAA", &BASE64.encode([0u8; 32]), &BASE64.encode([7u8; 48])] {
            assert!(decrypt(AES_KEY, bad).is_err(), "{bad}");
        }
        assert!(encrypt("short", OWNER, "a").is_err());
    }

    #[test]
    fn a_key_whose_last_character_carries_extra_bits_is_taken() {
        // `2` ends in bits past the 32nd byte: DingTalk's libraries drop them.
        let key = format!("{}c12", "a".repeat(40));
        let encrypted = encrypt(&key, OWNER, "x").unwrap();
        assert_eq!(decrypt(&key, &encrypted).unwrap().0, "x");
    }
}
