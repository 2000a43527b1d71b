//! Names within a tree: map keys, variant names, and the key a raw value
//! is read under, each handed over as serde_json hands it.

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde_json::{Error, Map, Value};

use super::RAW_VALUE_TOKEN;

/// What a name does for any visitor, the same for a key and a variant
/// name: borrowed to an identifier or `&str` reader (serde's derive reads
/// a name so), an owned copy to any other, and a unit variant's name to an
/// enum reader.
macro_rules! text_methods {
    () => {
        fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_str(self.0)
        }

        fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_str(self.0)
        }

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_string(self.0.to_owned())
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            let key: StringDeserializer<Error> = self.0.to_owned().into_deserializer();
            key.deserialize_enum(name, variants, visitor)
        }
    };
}

/// A map key, read as serde_json reads one: a field name borrowed, other
/// text as an owned string; a number or a `bool` by serde_json's own key
/// deserializer (it parses `"7"` as the number 7), from a map of that one
/// key; an enum as a string of its unit variant.
pub(super) struct Key<'k>(pub(super) &'k str);

/// Calls one method of serde_json's key deserializer: each is its own
/// seed type, so that only the methods a key type uses are compiled.
macro_rules! by_serde_json {
    ($($method:ident => $seed:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            struct $seed<V>(V);
            impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for $seed<V> {
                type Value = V::Value;
                fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
                    d.$method(self.0)
                }
            }
            only_key(self.0, $seed(visitor))
        }
    )*};
}

/// Deserializes the one key of a map holding `key` with `seed`: through
/// serde_json's own key deserializer.
fn only_key<'de, S: DeserializeSeed<'de>>(key: &str, seed: S) -> Result<S::Value, Error> {
    struct First<S>(S);
    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for First<S> {
        type Value = S::Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of one key")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Value, A::Error> {
            map.next_key_seed(self.0)?
                .ok_or_else(|| de::Error::custom("the map of one key is empty"))
        }
    }
    let mut one = Map::new();
    one.insert(key.to_owned(), Value::Null);
    one.deserialize_map(First(seed))
}

impl<'de> Deserializer<'de> for Key<'_> {
    type Error = Error;

    text_methods!();

    by_serde_json! {
        deserialize_bool => Bool,
        deserialize_i8 => I8,
        deserialize_i16 => I16,
        deserialize_i32 => I32,
        deserialize_i64 => I64,
        deserialize_i128 => I128,
        deserialize_u8 => U8,
        deserialize_u16 => U16,
        deserialize_u32 => U32,
        deserialize_u64 => U64,
        deserialize_u128 => U128,
        deserialize_f32 => F32,
        deserialize_f64 => F64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // A key is never absent.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        char string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        ignored_any
    }
}

/// A variant's name, read as serde_json reads it (an owned string to
/// every method) but borrowed where serde's derive reads it.
pub(super) struct VariantName<'k>(pub(super) &'k str);

impl<'de> Deserializer<'de> for VariantName<'_> {
    type Error = Error;

    text_methods!();

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct ignored_any
    }
}

/// A value's JSON text, as serde_json hands it to a `RawValue`: one entry,
/// under [`RAW_VALUE_TOKEN`].
pub(super) struct RawText(pub(super) Option<String>);

impl<'de> MapAccess<'de> for RawText {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.0.is_none() {
            return Ok(None);
        }
        let token: de::value::BorrowedStrDeserializer<'de, Error> =
            de::value::BorrowedStrDeserializer::new(RAW_VALUE_TOKEN);
        seed.deserialize(token).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let text = self.0.take().unwrap_or_default();
        seed.deserialize(text.into_deserializer())
    }
}
