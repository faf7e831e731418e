//! Request extractors whose rejections are `ApiError`s (rule 14): malformed JSON is 400, a
//! body of the wrong shape is 422 naming the field, an oversized body is 413, a malformed id
//! in a path is 404 like any id that does not exist.

use crate::error::ApiError;
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
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(ref inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is larger than 2 MiB",
                )
            }
            other => ApiError::new(other.status(), "bad_request", other.body_text()),
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON body is required"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, telling syntax errors (400) from shape errors (422 with the field's path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de);
    if value.is_ok() {
        de.end()
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    }
    value.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let field = field_of(&path, &message);
                ApiError::from(flowspace_core::DomainError::invalid(field, message))
            }
            _ => ApiError::bad_request(format!("malformed JSON: {inner}")),
        }
    })
}

/// The field an error is about: the path serde reached, plus the field it found missing
/// (serde reports a missing field at the path of the object that lacks it).
fn field_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(m)) => m.to_string(),
        (p, Some(m)) => format!("{p}.{m}"),
        ("", None) => "body".to_string(),
        (p, None) => p.to_string(),
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
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::from(flowspace_core::DomainError::invalid("query", e.body_text()))
            })
    }
}

/// Reads an optional integer field of a JSON body the way JSON Schema counts integers: `582`,
/// `582.0` and `5.82e2` are the same integer; a fraction, a string, or a value out of range is
/// refused. For `#[serde(default, deserialize_with = ...)]`.
pub fn integral<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    d.deserialize_any(Integral::<T>(false, std::marker::PhantomData))
}

/// `integral` for a required field.
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    integral(d)?
        .ok_or_else(|| serde::de::Error::invalid_type(serde::de::Unexpected::Unit, &"an integer"))
}

/// `integral` for a query parameter, which arrives as text: `582` and `582.0` alike.
pub fn integral_param<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    d.deserialize_any(Integral::<T>(true, std::marker::PhantomData))
}

/// Whether text is read (query parameters), and the integer type wanted.
struct Integral<T>(bool, std::marker::PhantomData<T>);

impl<T: TryFrom<i64>> serde::de::Visitor<'_> for Integral<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            .and_then(|v| self.visit_i64(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // i64::MAX is not a float: stop below 2^63.
        if v.fract() == 0.0 && v >= -(2f64.powi(63)) && v < 2f64.powi(63) {
            self.visit_i64(v as i64)
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match (self.0, v.parse::<i64>(), v.parse::<f64>()) {
            (true, Ok(i), _) => self.visit_i64(i),
            (true, _, Ok(f)) if f.is_finite() => self.visit_f64(f),
            _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
        }
    }
}

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
}
