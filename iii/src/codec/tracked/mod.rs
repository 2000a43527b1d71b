//! A `serde_json::Value` read into a Rust type, the field path of a
//! failure tracked on the way.
//!
//! `serde_path_to_error` tracks a path for any deserializer by wrapping it,
//! and every visitor, seed and access it hands out, and it copies every map
//! key it passes into a `String`, in case a value under it fails. Here the
//! deserializer is our own, over the owned tree: each level holds its place
//! in the path as a borrowed segment (the key it took out of the map, the
//! index in the array), and a failing level writes the path out once. A
//! type's `Deserialize` is compiled against this one deserializer, with no
//! wrapper types around its visitors, and a struct's field names are not
//! copied. (A key read as a `String`, a `Value` or buffered for `flatten`
//! and untagged enums is copied, as serde_path_to_error copied every key;
//! a key read as a number or a `bool` goes through serde_json's own key
//! parser, in a map of that one key.)
//!
//! It reads a tree as `serde_json::Value`'s own deserializer does, with the
//! same errors (built by `serde_json::Error`, and by serde_json itself
//! wherever a value is a leaf), and reports the path
//! `serde_path_to_error` reports, with two differences, both for map
//! keys: where that crate writes `?` for a key it did not see as text (a
//! key read as an `Option`, a newtype, an enum, a float, or one that
//! failed to parse as a number), and where it writes the number a key was
//! read as (`0` for an `i128` key `"-0"`, `1` for a `u8` key `"1x"`), the
//! key's own text is written.
//! A field name, a variant name and a key read with `deserialize_str` are
//! handed to their visitor with `visit_str`, where serde_json calls
//! `visit_string`: the same to serde's derive and to every type of std.
//!
//! Every struct a worker decodes compiles its own instances of this
//! module's generic functions. So what does not depend on the visitor is
//! in methods of the array and object accesses ([`access`]), kept out of
//! line where code compiled per visitor calls them, and a value's
//! decoding (compiled once per value type) is called rather than inlined
//! into each struct with a field of that type. With 200
//! `#[iii::function]`s, the release build's machine code for decoding one
//! input struct went from 4,944 bytes to 2,577 (README, Performance).

use std::cell::OnceCell;
use std::fmt::Write;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Expected, Unexpected,
    VariantAccess, Visitor,
};
use serde_json::{Error, Value};

mod names;
#[cfg(test)]
mod tests;

use names::{RawText, VariantName};

use super::Undecodable;
use iii_protocol::RAW_VALUE_TOKEN;

/// `value` as a `T`, or the path of the part that did not fit (`.` for
/// the whole) and serde's reason.
///
/// Compiled once per type decoded, so it holds no closure (each would be
/// compiled per type too): the failure is built by [`failure`].
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Undecodable> {
    let track = OnceCell::new();
    let tracked = Tracked {
        value,
        path: Path::Root,
        track: &track,
    };
    match T::deserialize(tracked) {
        Ok(value) => Ok(value),
        Err(inner) => Err(failure(track, inner)),
    }
}

/// The failure of a decode: where its tracker marked it, else the whole.
fn failure(track: OnceCell<String>, inner: Error) -> Undecodable {
    let path = track.into_inner().unwrap_or_else(|| ".".into());
    Undecodable { path, inner }
}

/// Where a value is in the tree: each level borrows its parent's place.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    /// An element of an array.
    Index(&'a Path<'a>, usize),
    /// The value under a map key, or the content of an enum variant.
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    /// The path as `serde_path_to_error` writes it: `items[1].name`, `.`
    /// for the root.
    fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Index(parent, _) | Path::Key(parent, _) => {
                    segments.push(at);
                    at = parent;
                }
            }
        }
        if segments.is_empty() {
            return ".".into();
        }
        let mut out = String::new();
        for (n, segment) in segments.iter().rev().enumerate() {
            match segment {
                Path::Index(_, i) => {
                    let _ = write!(out, "[{i}]");
                }
                Path::Key(_, key) => {
                    if n > 0 {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Path::Root => {}
            }
        }
        out
    }
}

/// Records `path` as the failure's, unless a deeper level did already
/// (errors travel outwards: the first one recorded is the innermost).
fn mark(path: &Path<'_>, track: &OnceCell<String>, error: Error) -> Error {
    track.get_or_init(|| path.render());
    error
}

/// `$out`, its error marked at `$path`: a `match`, where `map_err` and
/// a closure would be two more functions compiled per visitor.
macro_rules! marked {
    ($out:expr, $path:expr, $track:expr) => {
        match $out {
            Ok(value) => Ok(value),
            Err(e) => Err(mark(&$path, $track, e)),
        }
    };
}

// After `marked!`, which it uses.
mod access;

use access::{visit_array, visit_object};

/// What serde calls the value in an error: as serde_json names it.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (None, Some(i), _) => Unexpected::Signed(i),
            (None, None, Some(f)) => Unexpected::Float(f),
            (None, None, None) => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

fn invalid_type(value: &Value, expected: &dyn Expected) -> Error {
    de::Error::invalid_type(unexpected(value), expected)
}

/// A value of the tree and its place in it.
struct Tracked<'p> {
    value: Value,
    path: Path<'p>,
    track: &'p OnceCell<String>,
}

/// Leaves go to serde_json's own deserializer, which never hands them to
/// `visit_seq` or `visit_map`.
macro_rules! leaves {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let (path, track) = (self.path, self.track);
            marked!(self.value.$method(visitor), path, track)
        }
    )*};
}

impl<'de> Deserializer<'de> for Tracked<'_> {
    type Error = Error;

    leaves! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_identifier deserialize_unit
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(array) => visit_array(array, visitor, path, track),
            Value::Object(object) => visit_object(object, visitor, path, track),
        };
        marked!(out, path, track)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        };
        marked!(out, path, track)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = self.value.deserialize_unit_struct(name, visitor);
        marked!(out, path, track)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = if name == RAW_VALUE_TOKEN {
            // A `Box<RawValue>`: the value's JSON text, handed over as
            // serde_json's own deserializer hands it.
            visitor.visit_map(RawText(Some(self.value.to_string())))
        } else {
            visitor.visit_newtype_struct(self)
        };
        marked!(out, path, track)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::Array(array) => visit_array(array, visitor, path, track),
            other => Err(invalid_type(&other, &visitor)),
        };
        marked!(out, path, track)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::Object(object) => visit_object(object, visitor, path, track),
            other => Err(invalid_type(&other, &visitor)),
        };
        marked!(out, path, track)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::Array(array) => visit_array(array, visitor, path, track),
            Value::Object(object) => visit_object(object, visitor, path, track),
            other => Err(invalid_type(&other, &visitor)),
        };
        marked!(out, path, track)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let (variant, value) = match self.value {
            Value::String(variant) => (variant, None),
            Value::Object(object) if object.len() == 1 => match object.into_iter().next() {
                Some((variant, value)) => (variant, Some(value)),
                None => unreachable!("an object of one entry has an entry"),
            },
            Value::Object(_) => {
                let error = de::Error::invalid_value(Unexpected::Map, &"map with a single key");
                return Err(mark(&path, track, error));
            }
            other => return Err(mark(&path, track, invalid_type(&other, &"string or map"))),
        };
        let access = Variant {
            variant,
            value,
            path,
            track,
        };
        marked!(visitor.visit_enum(access), path, track)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (path, track) = (self.path, self.track);
        let out = match self.value {
            Value::String(s) => visitor.visit_string(s),
            Value::Array(array) => visit_array(array, visitor, path, track),
            other => Err(invalid_type(&other, &visitor)),
        };
        marked!(out, path, track)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        drop(self.value);
        visitor.visit_unit()
    }
}

/// An enum's variant, and its content if it has one.
struct Variant<'p> {
    variant: String,
    value: Option<Value>,
    path: Path<'p>,
    track: &'p OnceCell<String>,
}

impl<'de, 'p> EnumAccess<'de> for Variant<'p> {
    type Error = Error;
    type Variant = Variant<'p>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let name = seed.deserialize(VariantName(&self.variant))?;
        Ok((name, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        let path = Path::Key(&self.path, &self.variant);
        match self.value {
            None => Ok(()),
            Some(value) => {
                let track = self.track;
                let out = de::Deserialize::deserialize(Tracked { value, path, track });
                marked!(out, path, track)
            }
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        let path = Path::Key(&self.path, &self.variant);
        match self.value {
            Some(value) => {
                let track = self.track;
                marked!(
                    seed.deserialize(Tracked { value, path, track }),
                    path,
                    track
                )
            }
            None => {
                let error = de::Error::invalid_type(Unexpected::UnitVariant, &"newtype variant");
                Err(mark(&path, self.track, error))
            }
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        let path = Path::Key(&self.path, &self.variant);
        let out = match self.value {
            // serde_json reads an empty array here as a unit.
            Some(Value::Array(array)) if array.is_empty() => visitor.visit_unit(),
            Some(Value::Array(array)) => visit_array(array, visitor, path, self.track),
            Some(other) => Err(invalid_type(&other, &"tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        };
        marked!(out, path, self.track)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = Path::Key(&self.path, &self.variant);
        let out = match self.value {
            Some(Value::Object(object)) => visit_object(object, visitor, path, self.track),
            Some(other) => Err(invalid_type(&other, &"struct variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        };
        marked!(out, path, self.track)
    }
}
