//! The SDK's JSON codec: values in and out of Rust types, with the field
//! path of a value that does not decode, and `serde_json::Value` moved
//! rather than rebuilt node by node.

use std::any::Any;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use iii_protocol::{RawJson, ResultValue, Shape};

mod tracked;

/// `value` as `T` when `T` is `serde_json::Value` itself, which would
/// otherwise be rebuilt node by node. The generic part is one downcast,
/// compiled once per type decoded and into its caller ([`decode_as`]): as
/// a function of its own it was 16 more lines of LLVM IR a type.
#[inline(always)]
pub(crate) fn as_is<T: 'static>(value: &mut Option<Value>) -> Option<T> {
    match (value as &mut dyn Any).downcast_mut::<Option<T>>() {
        Some(same) => same.take(),
        None => None,
    }
}

/// Encodes a handler's `output` in `shape`: a `serde_json::Value` is
/// moved as it is, not rebuilt; any other type is written as JSON text
/// ([`Shape::Text`], which the answer's frame takes as it is) or built
/// into a tree ([`Shape::Tree`], for an answer the SDK still looks into).
pub(crate) fn encode<T: Serialize + 'static>(
    output: T,
    shape: Shape,
) -> Result<ResultValue, serde_json::Error> {
    let mut slot = Some(output);
    if let Some(value) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Value>>()
        && let Some(value) = value.take()
    {
        return Ok(ResultValue::Tree(value));
    }
    match shape {
        Shape::Tree => serde_json::to_value(&slot).map(ResultValue::Tree),
        Shape::Text => RawJson::from_serialize(&slot).map(ResultValue::Text),
    }
}

/// A value that did not decode: the field path (`.` for the whole value)
/// and serde's reason.
pub(crate) struct Undecodable {
    path: String,
    inner: serde_json::Error,
}

impl Undecodable {
    /// The error naming `what` did not decode, the failing field path and
    /// the expected type.
    pub(crate) fn into_error(self, what: String) -> Error {
        let Undecodable { path, inner } = self;
        let reason = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("at `{path}`: {inner}")
        };
        Error::Decode { what, reason }
    }
}

/// Decodes `value` into `T`; the error is named by the caller.
pub(crate) fn decode_as<T: DeserializeOwned + 'static>(value: Value) -> Result<T, Undecodable> {
    let mut slot = Some(value);
    if let Some(same) = as_is::<T>(&mut slot) {
        return Ok(same);
    }
    let value = slot.unwrap_or(Value::Null);
    // One decode, its field path tracked by a deserializer of our own
    // ([`tracked`]). Trying an untracked decode first (the path is only
    // needed to explain a failure) compiled every input type's
    // `Deserialize` twice, against two deserializers: a crate of 200
    // `#[iii::function]`s took 40% longer to build in release (README,
    // Performance).
    tracked::from_value(value)
}

/// Decodes `value` into `T`, naming `what`, the failing field path and the
/// expected type: for a `T` that need not be `'static` (a `Value` is
/// rebuilt, not moved).
pub(crate) fn decode_tracked<T: DeserializeOwned>(
    value: Value,
    what: impl FnOnce() -> String,
) -> Result<T, Error> {
    match tracked::from_value(value) {
        Ok(value) => Ok(value),
        Err(failure) => Err(failure.into_error(what())),
    }
}

/// Decodes `value` into `T`, naming the failing field path and expected type.
pub(crate) fn decode<T: DeserializeOwned + 'static>(
    value: Value,
    what: impl FnOnce() -> String,
) -> Result<T, Error> {
    match decode_as(value) {
        Ok(decoded) => Ok(decoded),
        Err(failure) => Err(failure.into_error(what())),
    }
}

/// Decodes a call's result (`None`: no value) into `T`, naming `what` and
/// the failing field path if it does not fit. A tree is decoded as
/// [`decode`] does; text (read for a caller of its own type) straight
/// into `T`, and only when that fails, again from its tree with the field
/// path tracked, to explain the failure: `T` is compiled against the text
/// deserializer and the tracked one, which a handler's input shares.
///
/// The tree explains most failures as the text would, but not all: it
/// holds an integer past 64 bits as a float, and the last of a key given
/// twice. Where the tree decodes (a duplicate key), the text's own error
/// stands; where the tree fails first at another field (a `u128` past
/// `u64::MAX` before the faulty field), that field is named.
pub(crate) fn decode_result<T: DeserializeOwned + 'static>(
    result: Option<ResultValue>,
    what: impl FnOnce() -> String,
) -> Result<T, Error> {
    let text = match result {
        None => return decode(Value::Null, what),
        Some(ResultValue::Tree(value)) => return decode(value, what),
        Some(ResultValue::Text(text)) => text,
    };
    match serde_json::from_str::<T>(text.get()) {
        Ok(value) => Ok(value),
        // The text did not fit: its tree names where. (A tree that cannot
        // be built, a number past `f64`'s range, or one that decodes, leaves
        // the text's own error.)
        Err(untracked) => {
            let explained = serde_json::from_str::<Value>(text.get())
                .ok()
                .map(decode_as::<T>);
            let failure = match explained {
                Some(Err(failure)) => failure,
                Some(Ok(_)) | None => Undecodable {
                    path: ".".into(),
                    inner: untracked,
                },
            };
            Err(failure.into_error(what()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Order {
        id: u64,
        items: Vec<String>,
    }

    fn text(json: &str) -> Option<ResultValue> {
        Some(ResultValue::Text(
            serde_json::from_str(json).expect("JSON text"),
        ))
    }

    /// A result read as text decodes into the caller's type, a `Value`, or
    /// nothing, as a tree does.
    #[test]
    fn a_result_decodes_from_its_text_as_from_its_tree() {
        let json = r#"{"id": 7, "items": ["a", "b"]}"#;
        let tree = Some(ResultValue::Tree(serde_json::from_str(json).expect("tree")));
        for result in [text(json), tree] {
            let order: Order = decode_result(result, || "the order".into()).expect("decodes");
            assert_eq!(
                order,
                Order {
                    id: 7,
                    items: vec!["a".into(), "b".into()]
                }
            );
        }
        let value: Value = decode_result(text(json), || "v".into()).expect("a tree");
        assert_eq!(value["items"][1], "b");
        let none: Option<u64> = decode_result(None, || "nothing".into()).expect("null");
        assert_eq!(none, None);
    }

    /// A result that does not fit the caller's type names what it was, the
    /// failing field and the expected type, whether read as text or tree.
    #[test]
    fn a_result_that_does_not_fit_names_the_field() {
        let json = r#"{"id": 7, "items": ["a", 9]}"#;
        let tree = Some(ResultValue::Tree(serde_json::from_str(json).expect("tree")));
        for result in [text(json), tree] {
            let error = decode_result::<Order>(result, || "the result of `shop::order`".into())
                .expect_err("items[1] is a number");
            let Error::Decode { what, reason } = &error else {
                panic!("not a decode error: {error:?}")
            };
            assert_eq!(what, "the result of `shop::order`");
            assert!(
                reason.starts_with("at `items[1]`: invalid type: integer `9`, expected a string"),
                "{reason}"
            );
            // Named from the tree: no line and column of a text the user
            // never saw.
            assert!(!reason.contains("column"), "{reason}");
        }
        // Text that holds no tree (a number past f64's range) fails as the
        // text failed.
        let error =
            decode_result::<f64>(text("1e400"), || "the big one".into()).expect_err("out of range");
        assert!(error.to_string().contains("number out of range"), "{error}");
        // Text that its tree would take (a key given twice: the tree keeps
        // the last) still fails, with the text's reason.
        let twice = r#"{"id": 7, "id": 8, "items": []}"#;
        let error = decode_result::<Order>(text(twice), || "twice".into()).expect_err("twice");
        assert!(
            error.to_string().contains("duplicate field `id`"),
            "{error}"
        );
    }

    #[derive(serde::Serialize)]
    struct Receipt {
        order: u64,
        note: Option<String>,
    }

    /// A handler's output is written as JSON text, or built as a tree where
    /// the SDK looks into it; either means the same value, and a `Value` is
    /// moved as it is, whatever the shape.
    #[test]
    fn an_output_is_encoded_in_the_shape_asked_for() {
        let receipt = || Receipt {
            order: 7,
            note: None,
        };
        let expected = serde_json::json!({"order": 7, "note": null});
        match encode(receipt(), Shape::Text).expect("encodes") {
            ResultValue::Text(text) => assert_eq!(text.get(), r#"{"order":7,"note":null}"#),
            other => panic!("expected text, got {other:?}"),
        }
        match encode(receipt(), Shape::Tree).expect("encodes") {
            ResultValue::Tree(tree) => assert_eq!(tree, expected),
            other => panic!("expected a tree, got {other:?}"),
        }
        for shape in [Shape::Text, Shape::Tree] {
            match encode(expected.clone(), shape).expect("encodes") {
                ResultValue::Tree(tree) => assert_eq!(tree, expected),
                other => panic!("a Value is moved as a tree, got {other:?}"),
            }
            assert!(encode((), shape).expect("encodes").is_null());
        }
        // What cannot be JSON fails in either shape, as before.
        let keyed = std::collections::HashMap::from([((1, 2), 3)]);
        assert!(encode(keyed.clone(), Shape::Text).is_err());
        assert!(encode(keyed, Shape::Tree).is_err());
    }
}
