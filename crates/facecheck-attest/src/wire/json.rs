//! Strict JSON reading shared by the token, registry and counter-state parsers.
//!
//! `serde_json` keeps the last value when an object repeats a member name. Two parsers that
//! disagree on which duplicate wins can be made to see different claims in the same signed
//! bytes, so every object read by this crate goes through [`parse_object`], which rejects
//! repeated names at any depth.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why strict parsing failed. Deliberately carries no text from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// 1-based line of the error, 0 if unknown.
    pub line: usize,
    /// 1-based column of the error, 0 if unknown.
    pub column: usize,
}

/// Parses `bytes` as a single JSON object whose member names are unique at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err(JsonError { line: 1, column: 1 }),
        Err(e) => Err(JsonError { line: e.line(), column: e.column() }),
    }
}

/// A `serde_json::Value` whose objects were checked for repeated member names.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without repeated member names")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        // JSON text cannot spell NaN or infinity, so `from_f64` only fails on input that
        // serde_json never produces; map it to null rather than panic all the same.
        Ok(StrictValue(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictValue(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictValue, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                return Err(de::Error::custom("repeated member name"));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(name, value);
        }
        Ok(StrictValue(Value::Object(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let map = parse_object(br#"{"a":1,"b":{"c":[true,null,"x",-2,1.5]}}"#).expect("valid");
        assert_eq!(map.len(), 2);
        assert_eq!(map["b"]["c"][3], Value::from(-2));
    }

    #[test]
    fn rejects_repeats_at_any_depth() {
        assert!(parse_object(br#"{"a":1,"a":1}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
    }

    #[test]
    fn rejects_non_objects_and_trailing_text() {
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"\"x\"").is_err());
        assert!(parse_object(b"{} {}").is_err());
        assert!(parse_object(b"").is_err());
        assert!(parse_object(b"{\"a\":1").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut deep = Vec::new();
        deep.extend_from_slice(b"{\"a\":");
        deep.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(parse_object(&deep).is_err());
    }
}
