//! Request bodies: `parse_json` (what `WireJson` runs on every JSON body)
//! applied to each wire request type, on arbitrary bytes.
//!
//! Never panics; every refusal is a 400 `paramError` or `paramError.<field>`;
//! only JSON objects (or an empty body) are accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgdrive_server::parse_json;
use orgdrive_server::wire::*;
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned>(data: &[u8]) {
    match parse_json::<T>(data) {
        Ok(_) => {
            let blank = data.is_empty();
            if !blank {
                // Were a body deserialized straight into T, serde_json would skip
                // unknown fields without checking their nesting depth or UTF-8
                // (harmless: they are dropped), hence the leniency.
                let text = String::from_utf8_lossy(data);
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(value) => assert!(value.is_object(), "accepted {value}"),
                    Err(e) => {
                        assert!(e.to_string().contains("recursion limit"), "accepted non-JSON: {e}")
                    }
                }
            }
        }
        Err(e) => {
            let name = std::any::type_name::<T>();
            assert_eq!(e.status.as_u16(), 400, "{name}: {e:?}");
            assert!(
                e.code == "paramError" || e.code.starts_with("paramError."),
                "{name}: code {:?} is not paramError*",
                e.code
            );
            // Not asserted (see README): that the field is a plain name. An
            // array under an unknown key names that key, whatever it is.
            assert!(e.required_scopes.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The DingTalk API.
    check::<GetAccessTokenRequest>(data);
    check::<AddSpaceRequest>(data);
    check::<AddFolderRequest>(data);
    check::<GetDentryRequest>(data);
    check::<GetDentriesRequest>(data);
    check::<ListAllDentriesRequest>(data);
    check::<GetFileUploadInfoRequest>(data);
    check::<InitMultipartFileUploadRequest>(data);
    check::<GetMultipartFileUploadInfosRequest>(data);
    check::<CommitFileRequest>(data);
    check::<GetFileDownloadInfoRequest>(data);
    // The admin API.
    check::<CreateOrgRequest>(data);
    check::<CreateAppRequest>(data);
    check::<CreateUserRequest>(data);
    check::<CreateDeptRequest>(data);
    check::<AddMemberRequest>(data);
});
