//! Integers as JSON Schema counts them: `582`, `582.0` and `5.82e2` are the same integer, so
//! a document that declares `type: integer` and the server agree on what is one.

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
