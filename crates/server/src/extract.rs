//! Request extractors whose rejections are `ApiError`s (rule 14): malformed JSON is 400, a
//! body of the wrong shape is 422 naming the field, an oversized body is 413, a malformed id
//! in a path is 404 like any id that does not exist.
//!
//! They also hold the checks every text needs before it can reach SQL, so that both backends
//! answer alike: a body is a JSON object, and so is every struct in it (`json_body`: serde
//! would otherwise read an array as a struct's fields in order); no key appears twice in an
//! object; and no text of a body or a query holds a NUL character (PostgreSQL cannot store
//! one in text, SQLite can).

use crate::error::ApiError;
use crate::json_body::{NUL_REASON, Strict, Unique};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A JSON content type is required, not only checked when present: a page of another
        // site can send a body with no content type at all (`fetch` with `no-cors` and a
        // typeless Blob), but never one typed `application/json` without CORS, which we do not
        // allow. So the public routes (setup, login, register) cannot be driven cross-site.
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|ct| ct.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON body is required"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A body that could not be read: too large (413), or broken off.
pub fn body_rejection(e: BytesRejection) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(ref inner)
            if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than this route takes",
            )
        }
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

/// Parses a JSON object, telling syntax errors (400) from shape errors (422 with the field's
/// path): another JSON value where an object belongs, a key twice in one object, or a NUL
/// character in any text the type reads (keys included) is a shape error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Unique(value) = serde_path_to_error::deserialize(&mut de).map_err(shape_error)?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(invalid(
            "body".into(),
            format!("expected a JSON object, found {}", kind_of(&value)),
        ));
    }
    from_value(value)
}

/// A JSON object already read from a body (by `ApiJson<Value>`) as `T`, refused as a body is.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(shape_error)
}

fn invalid(field: String, reason: String) -> ApiError {
    ApiError::from(flowspace_core::DomainError::invalid(field, reason))
}

/// A data error is the client's field (422); anything else is malformed JSON (400).
fn shape_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = strip_position(&inner.to_string());
            let field = field_of(&path, &message);
            invalid(field, message)
        }
        _ => ApiError::bad_request(format!("malformed JSON: {inner}")),
    }
}

/// The field an error is about: the path serde reached, plus the field it found missing or
/// twice (either is reported at the path of the object that holds it).
fn field_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(m)) => m.to_string(),
        (p, Some(m)) => format!("{p}.{m}"),
        ("", None) => "body".to_string(),
        (p, None) => p.to_string(),
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The `{id}` of a path, parsed; anything unparsable is "not found".
pub struct Id<T>(pub T);

impl<S: Send + Sync, T: FromStr + Send> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("item"))?;
        raw.parse().map(Id).map_err(|_| ApiError::not_found("item"))
    }
}

/// Query parameters; a malformed one is 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            && let Some((name, _)) = pairs
                .iter()
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let field = if name.contains('\0') {
                "query".to_string()
            } else {
                name.chars().take(100).collect()
            };
            return Err(ApiError::from(flowspace_core::DomainError::invalid(
                field, NUL_REASON,
            )));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::from(flowspace_core::DomainError::invalid("query", e.body_text()))
            })
    }
}

pub use flowspace_core::integer::{integer, integral, integral_param};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        n: Option<u32>,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Version {
        #[serde(default, deserialize_with = "integral")]
        v: Option<u32>,
    }

    #[test]
    fn integers_are_integers_however_written() {
        let v = |s: &str| parse_json::<Version>(s.as_bytes()).map(|x| x.v);
        assert_eq!(v(r#"{"v": 582}"#).unwrap(), Some(582));
        assert_eq!(v(r#"{"v": 582.0}"#).unwrap(), Some(582));
        assert_eq!(v(r#"{"v": 5.82e2}"#).unwrap(), Some(582));
        assert_eq!(v(r#"{"v": null}"#).unwrap(), None);
        assert_eq!(v("{}").unwrap(), None);
        for bad in [
            r#"{"v": 1.5}"#,
            r#"{"v": -1}"#,
            r#"{"v": 1e300}"#,
            r#"{"v": "7"}"#,
        ] {
            let e = v(bad).unwrap_err();
            assert_eq!(e.details["field"], "v", "{bad}");
        }
        #[derive(serde::Deserialize)]
        struct Param {
            #[serde(default, deserialize_with = "integral_param")]
            v: Option<u32>,
        }
        let q = |s: &str| serde_urlencoded::from_str::<Param>(s).map(|x| x.v);
        assert_eq!(q("v=582").unwrap(), Some(582));
        assert_eq!(q("v=582.0").unwrap(), Some(582));
        assert!(q("v=1.5").is_err());
        assert!(q("v=x").is_err());
    }

    #[test]
    fn json_errors_are_classified() {
        assert!(parse_json::<Body>(br#"{"name": "a"}"#).is_ok());
        let e = parse_json::<Body>(br#"{"name": "a""#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_json::<Body>(br#"{"name": 3}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "name");
        let e = parse_json::<Body>(br#"{"n": 1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "name", "a missing field is named");
        let e = parse_json::<Body>(br#""text""#).unwrap_err();
        assert_eq!(e.details["field"], "body");
        let e = parse_json::<Body>(br#"{"name": "a", "n": -1}"#).unwrap_err();
        assert_eq!(e.details["field"], "n");
        let e = parse_json::<Body>(br#"{"name": "a"} trailing"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn only_an_object_is_an_object() {
        for (body, found) in [
            (&br#"["a", 1]"#[..], "an array"),
            (br#" "a""#, "a string"),
            (b"null", "null"),
            (b"3", "a number"),
        ] {
            let e = parse_json::<Body>(body).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
            assert_eq!(e.details["field"], "body");
            assert!(e.message.contains(found), "{}", e.message);
        }
        let e = parse_json::<Body>(b"[1,").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "malformed stays 400");
        assert!(parse_json::<Body>(b"  \n{\"name\": \"a\"}").is_ok());
    }

    #[test]
    fn a_nul_in_any_text_the_type_reads_is_refused_naming_its_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct WithData {
            name: String,
            data: Option<serde_json::Value>,
        }
        let e = parse_json::<Body>(br#"{"name": "a\u0000b"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "name");
        // Inside free-form data, values and keys alike.
        let e =
            parse_json::<WithData>(br#"{"name": "a", "data": {"y": [1, "\u0000"]}}"#).unwrap_err();
        assert_eq!(e.details["field"], "data.y[1]");
        let e = parse_json::<WithData>(br#"{"name": "a", "data": {"k\u0000": 1}}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.details["field"].as_str().unwrap().starts_with("data."),
            "{e:?}"
        );
        // A field the type does not read is skipped unread, as serde skips it: its text never
        // reaches SQL.
        let ok = parse_json::<Body>(br#"{"name": "a", "x\u0000": {"y": [1, "\u0000"]}}"#);
        assert_eq!(ok.unwrap().name, "a");
        // An escaped backslash followed by `u0000` is text, not a NUL.
        let ok = parse_json::<Body>(br#"{"name": "a\\u0000"}"#).unwrap();
        assert_eq!(ok.name, "a\\u0000");
        let e = parse_json::<Body>(br#"{"name": "\\\u0000"}"#).unwrap_err();
        assert_eq!(e.details["field"], "name");
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        inner: Option<Body>,
    }

    #[test]
    fn nested_structs_are_objects_too_and_keys_are_unique() {
        let e = parse_json::<Nested>(br#"{"inner": ["a", 1]}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "inner");
        assert!(e.message.contains("expected struct Body"), "{}", e.message);
        let e = parse_json::<Body>(br#"{"name": "a", "name": "b"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "name");
        let e = parse_json::<Nested>(br#"{"inner": {"name": "a", "n": 1, "n": 2}}"#).unwrap_err();
        assert_eq!(e.details["field"], "inner.n");
        let e = parse_json::<Body>(br#"{"name": "\ud800"}"#).unwrap_err();
        assert_eq!(
            e.status,
            StatusCode::BAD_REQUEST,
            "a lone surrogate is malformed"
        );
    }
}
