//! sdk errors as JavaScript values: plain objects `{code, message, ...details}` that the
//! package's `index.js` turns into `TollgateError` (and `QuorumError`) instances.
//!
//! `code` is [`tollgate_sdk::Error::code`], the same snake_case name the CLI prints, so one
//! table names every kind of failure in Rust, on the command line and in JavaScript.

use js_sys::{Array, Object, Reflect};
use tollgate_sdk::Error;
use wasm_bindgen::JsValue;

/// `Result` whose error is the object thrown into JavaScript.
pub type JsResult<T> = Result<T, JsValue>;

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

fn object(code: &str, message: &str) -> Object {
    let object = Object::new();
    set(&object, "code", code);
    set(&object, "message", message);
    object
}

/// An sdk error with its code and the fields a caller may act on.
pub fn to_js(err: Error) -> JsValue {
    let o = object(err.code(), &err.to_string());
    match err {
        Error::QuorumNotReached {
            signed,
            threshold,
            failures,
        } => {
            set(&o, "signed", signed as u32);
            set(&o, "threshold", threshold as u32);
            let list = Array::new();
            for failure in &failures {
                let f = Object::new();
                set(&f, "url", failure.url.as_str());
                set(&f, "index", u32::from(failure.index));
                set(&f, "reason", failure.reason.as_str());
                list.push(&f);
            }
            set(&o, "failures", list);
        }
        Error::ProofMismatch {
            party,
            field,
            expected,
            found,
        } => {
            set(&o, "party", party);
            set(&o, "field", field);
            set(&o, "expected", expected.as_str());
            set(&o, "found", found.as_str());
        }
        Error::BadSignature { index } | Error::UnknownSigner(index) => {
            set(&o, "index", u32::from(index));
        }
        Error::TooFewSignatures { found, threshold } => {
            set(&o, "found", found as u32);
            set(&o, "threshold", threshold as u32);
        }
        Error::InBatch { position, error } => {
            set(&o, "position", position as u32);
            set(&o, "cause", to_js(*error));
        }
        Error::ProofExpired { valid_until, now } => {
            set(&o, "validUntil", valid_until);
            set(&o, "now", now);
        }
        _ => {}
    }
    o.into()
}

/// A value from JavaScript that does not have the expected shape (`code: "invalid_input"`).
pub fn invalid_input(what: &str, reason: &str) -> JsValue {
    let o = object("invalid_input", &format!("invalid {what}: {reason}"));
    set(&o, "field", what);
    o.into()
}
