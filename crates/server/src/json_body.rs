//! How a JSON request body becomes a typed value (rule 14), in two steps:
//!
//! 1. [`Unique`] reads the text into a `serde_json::Value`, refusing a key that appears twice
//!    in one object (a `Value` would silently keep the last one);
//! 2. [`Strict`] hands that value to the type's derived `Deserialize`, refusing anything but
//!    a JSON object where a struct is expected, at any depth. serde's derived structs also
//!    accept an array of their fields in order, so without this `["Renamed"]` would rename a
//!    workspace and `[email, password]` would sign in.
//!
//! A NUL character is refused in every text the request type reads (values, and the keys of
//! the objects it reads, free-form `data` included), with the path of the field: no such text
//! reaches SQL, where PostgreSQL refuses it. Fields the type does not read are skipped unread,
//! as serde skips them, whatever they hold.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Error, Map, Value};
use std::fmt;

/// A JSON value whose objects have no key twice.
pub struct Unique(pub Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Unique::deserialize(d).map(|u| u.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let Unique(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Why a text is refused.
pub(crate) const NUL_REASON: &str = "must not contain a NUL character";

fn nul() -> Error {
    de::Error::custom(NUL_REASON)
}

/// A JSON value read by a derived `Deserialize`, where only an object is a struct.
pub struct Strict(pub Value);

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Unexpected::Signed(i),
            (_, Some(u), _) => Unexpected::Unsigned(u),
            (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl<'de> Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => {
                let len = items.len();
                let mut seq = Elements(items.into_iter());
                let out = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(out),
                    _ => Err(de::Error::invalid_length(
                        len,
                        &"fewer elements in the array",
                    )),
                }
            }
            Value::Object(map) => visitor.visit_map(Entries {
                iter: map.into_iter(),
                value: None,
            }),
            Value::String(s) if s.contains('\0') => Err(nul()),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Strict(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    // An enum's variant data is read by serde_json's own rules (no request type has one
    // holding a struct).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct Elements(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Elements {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Strict(v)))
            .transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries {
    iter: serde_json::map::IntoIter,
    /// The value of the key just read, and whether that key holds a NUL.
    value: Option<(Value, bool)>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some((value, key.contains('\0')));
                seed.deserialize(Value::String(key)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some((value, false)) => seed.deserialize(Strict(value)),
            Some((_, true)) => seed.deserialize(NulKeyed),
            None => Err(de::Error::custom("a value was read before its key")),
        }
    }
}

/// The value of a key that holds a NUL: refused if the type reads it at all, skipped (key and
/// all) if the type does not know the field.
struct NulKeyed;

impl<'de> Deserializer<'de> for NulKeyed {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(nul())
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        a: String,
        b: Option<u32>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Outer {
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        any: Option<Value>,
    }

    fn read<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        let Unique(v) = serde_json::from_str(text).map_err(|e| e.to_string())?;
        T::deserialize(Strict(v)).map_err(|e| e.to_string())
    }

    #[test]
    fn objects_are_read_as_before() {
        let o: Outer =
            read(r#"{"inner": {"a": "x", "b": 2}, "list": [{"a": "y"}], "any": [1, {"k": null}]}"#)
                .unwrap();
        assert_eq!(o.inner.unwrap().b, Some(2));
        assert_eq!(o.list[0].a, "y");
        assert_eq!(o.any.unwrap(), serde_json::json!([1, {"k": null}]));
        let e = read::<Inner>(r#"{"a": 3}"#).unwrap_err();
        assert!(
            e.contains("invalid type: integer `3`, expected a string"),
            "{e}"
        );
        let e = read::<Inner>(r#"{"b": 1}"#).unwrap_err();
        assert!(e.contains("missing field `a`"), "{e}");
    }

    #[test]
    fn an_array_is_no_struct_at_any_depth() {
        let e = read::<Inner>(r#"["x", 2]"#).unwrap_err();
        assert!(
            e.contains("invalid type: sequence, expected struct Inner"),
            "{e}"
        );
        let e = read::<Outer>(r#"{"inner": ["x", 2]}"#).unwrap_err();
        assert!(e.contains("expected struct Inner"), "{e}");
        let e = read::<Outer>(r#"{"list": [["x", 2]]}"#).unwrap_err();
        assert!(e.contains("expected struct Inner"), "{e}");
    }

    #[test]
    fn a_key_twice_is_refused() {
        let e = read::<Inner>(r#"{"a": "x", "a": "y"}"#).unwrap_err();
        assert!(e.contains("duplicate field `a`"), "{e}");
        let e = read::<Outer>(r#"{"any": {"k": 1, "k": 2}}"#).unwrap_err();
        assert!(e.contains("duplicate field `k`"), "{e}");
    }
}
