//! The accesses a visitor reads an array and an object through: each
//! element and each entry at its place in the path, then the check that
//! the visitor read them all.

use std::cell::OnceCell;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Error, Map, Value};

use super::names::Key;
use super::{Path, Tracked, mark};

/// The check after a visitor read an array or a map of `len` items, with
/// `left` unread: serde_json's error when any is.
fn all_read(left: usize, len: usize, expected: &'static str) -> Result<(), Error> {
    if left == 0 {
        Ok(())
    } else {
        Err(de::Error::invalid_length(len, &expected))
    }
}

/// `$out`, then `$check` if it is `Ok`: matches, not `?`, since in a debug
/// build each `?` is two more functions compiled per visitor.
macro_rules! then_checked {
    ($out:expr, $check:expr) => {
        match $out {
            Ok(out) => match $check {
                Ok(()) => Ok(out),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    };
}

/// Elements of an array, then the check that all were read.
///
/// Compiled once per visitor (a struct's is its own type), so everything
/// that does not depend on it is in [`Elements`]' own methods, compiled
/// once.
pub(super) fn visit_array<'de, V: Visitor<'de>>(
    array: Vec<Value>,
    visitor: V,
    path: Path<'_>,
    track: &OnceCell<String>,
) -> Result<V::Value, Error> {
    let mut seq = Elements::new(array, path, track);
    then_checked!(visitor.visit_seq(&mut seq), seq.finish())
}

/// Entries of an object, then the check that all were read; compiled
/// once per visitor, as [`visit_array`].
pub(super) fn visit_object<'de, V: Visitor<'de>>(
    object: Map<String, Value>,
    visitor: V,
    path: Path<'_>,
    track: &OnceCell<String>,
) -> Result<V::Value, Error> {
    let mut map = Entries::new(object, path, track);
    then_checked!(visitor.visit_map(&mut map), map.finish())
}

/// The elements of an array, each at its index.
struct Elements<'p> {
    iter: std::vec::IntoIter<Value>,
    len: usize,
    index: usize,
    path: Path<'p>,
    track: &'p OnceCell<String>,
}

// What is called from code compiled per visitor is kept out of line
// (`inline(never)`), compiled once; what code compiled per element type
// calls once an element is inlined there.
impl<'p> Elements<'p> {
    #[inline(never)]
    fn new(array: Vec<Value>, path: Path<'p>, track: &'p OnceCell<String>) -> Self {
        Elements {
            len: array.len(),
            iter: array.into_iter(),
            index: 0,
            path,
            track,
        }
    }

    /// The next element and its index. Called only from code compiled per
    /// element type, once an element: inlined there.
    #[inline]
    fn next(&mut self) -> Option<(Value, usize)> {
        let value = self.iter.next()?;
        let index = self.index;
        self.index += 1;
        Some((value, index))
    }

    /// Whether the visitor read every element.
    #[inline(never)]
    fn finish(self) -> Result<(), Error> {
        all_read(self.iter.len(), self.len, "fewer elements in array")
    }
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    // Compiled once per element type, and called (see `next_value_seed`).
    #[inline(never)]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((value, index)) = self.next() else {
            return Ok(None);
        };
        let path = Path::Index(&self.path, index);
        let track = self.track;
        // An error the element's own `Deserialize` returns (a check after
        // it read the element) is the element's, as one from below it.
        match seed.deserialize(Tracked { value, path, track }) {
            Ok(element) => Ok(Some(element)),
            Err(e) => Err(mark(&path, track, e)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of an object: each key kept while its value is read, for
/// the path.
struct Entries<'p> {
    iter: serde_json::map::IntoIter,
    len: usize,
    key: String,
    value: Option<Value>,
    path: Path<'p>,
    track: &'p OnceCell<String>,
}

// Kept out of line or inlined by the same rule as `Elements`' methods.
impl<'p> Entries<'p> {
    #[inline(never)]
    fn new(object: Map<String, Value>, path: Path<'p>, track: &'p OnceCell<String>) -> Self {
        Entries {
            len: object.len(),
            iter: object.into_iter(),
            key: String::new(),
            value: None,
            path,
            track,
        }
    }

    /// Takes the next entry: its key is returned, its value kept for
    /// [`MapAccess::next_value_seed`].
    #[inline(never)]
    fn next(&mut self) -> Option<&str> {
        let (key, value) = self.iter.next()?;
        self.key = key;
        self.value = Some(value);
        Some(&self.key)
    }

    /// The value of the entry last taken. Called only from code compiled
    /// per value type, once an entry: inlined there.
    #[inline]
    fn value(&mut self) -> Result<Value, Error> {
        self.value
            .take()
            .ok_or_else(|| de::Error::custom("value is missing"))
    }

    /// `error`, marked at the entry last taken.
    #[inline(never)]
    fn failed(&self, error: Error) -> Error {
        mark(&Path::Key(&self.path, &self.key), self.track, error)
    }

    /// Whether the visitor read every entry.
    #[inline(never)]
    fn finish(self) -> Result<(), Error> {
        all_read(self.iter.len(), self.len, "fewer elements in map")
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = self.next() else {
            return Ok(None);
        };
        match seed.deserialize(Key(key)) {
            Ok(key) => Ok(Some(key)),
            Err(e) => Err(self.failed(e)),
        }
    }

    // Compiled once per value type (for a derived struct's field, its
    // seed is `PhantomData` of the field's type), and called, not inlined:
    // were it inlined, each struct with a field of the type would compile
    // its decoding again.
    #[inline(never)]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value()?;
        let path = Path::Key(&self.path, &self.key);
        match seed.deserialize(Tracked {
            value,
            path,
            track: self.track,
        }) {
            Ok(value) => Ok(value),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}
