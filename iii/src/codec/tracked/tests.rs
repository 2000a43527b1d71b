//! The tracked decoder against `serde_path_to_error` over serde_json's own
//! `Value` deserializer, the decode it replaces: over random trees and a
//! set of types, the same value or the same error at the same path.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use serde_json::Error;

/// [`super::from_value`], with the failure as its path and serde's error.
fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, (String, Error)> {
    super::from_value(value).map_err(|failure| (failure.path, failure.inner))
}

#[derive(Deserialize, Debug, PartialEq)]
struct Order {
    a: u8,
    #[serde(default)]
    b: Option<String>,
    items: Vec<Item>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Item {
    id: i64,
    name: String,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Strict {
    a: u8,
}

#[derive(Deserialize, Debug, PartialEq)]
enum External {
    A(u8),
    B { x: u8 },
    C(u8, u8),
    Dd,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(tag = "t")]
enum Internal {
    A { x: u8 },
    B,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A(u8),
    B,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Untagged {
    A(u8),
    B(String),
    C(Vec<u8>),
}

#[derive(Deserialize, Debug, PartialEq)]
struct Flat {
    a: u8,
    #[serde(flatten)]
    rest: Rest,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Rest {
    b: u8,
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Id(String);

#[derive(Deserialize, Debug, PartialEq)]
struct Newtype(u8);

/// A value checked after it is read: its error comes from its own
/// `Deserialize`, not from below it.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(try_from = "u8")]
struct Even(u8);

impl TryFrom<u8> for Even {
    type Error = String;
    fn try_from(n: u8) -> Result<Even, String> {
        if n.is_multiple_of(2) {
            Ok(Even(n))
        } else {
            Err(format!("{n} is odd"))
        }
    }
}

#[derive(Deserialize, Debug, PartialEq)]
struct Checked {
    a: Even,
    items: Vec<Even>,
    e: Option<EvenVariant>,
}

#[derive(Deserialize, Debug, PartialEq)]
enum EvenVariant {
    A(Even),
    B { x: Even },
}

#[derive(Deserialize, Debug, PartialEq)]
struct Holder {
    e: External,
    i: Option<Internal>,
    u: Option<Untagged>,
    f: Option<Flat>,
    n: Option<Vec<Option<Newtype>>>,
}

/// One decode both ways: the same value, or the same message at the same
/// path. (Where serde_path_to_error writes `?` for a key it did not see as
/// text, only the message is compared: this decoder writes the key.)
fn same<T: DeserializeOwned + Debug + PartialEq>(value: &Value) {
    compare::<T>(value, true);
}

/// [`same`] for a map with integer keys, where serde_path_to_error writes
/// the number a key was read as (`0` for `"-0"`) and this decoder the key:
/// the values and messages only.
fn same_but_keys<T: DeserializeOwned + Debug + PartialEq>(value: &Value) {
    compare::<T>(value, false);
}

fn compare<T: DeserializeOwned + Debug + PartialEq>(value: &Value, paths: bool) {
    let ours = from_value::<T>(value.clone());
    let theirs = serde_path_to_error::deserialize::<_, T>(value.clone());
    match (ours, theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{value}"),
        (Err((path, error)), Err(oracle)) => {
            assert_eq!(
                error.to_string(),
                oracle.inner().to_string(),
                "{} from {value}",
                std::any::type_name::<T>()
            );
            // serde_path_to_error writes `?` for a key it did not see as
            // text, and the leading number of a key with more after it;
            // this decoder writes the key.
            let expected = oracle.path().to_string();
            if paths && !error.to_string().contains("key to be a number") {
                assert!(
                    matches(&expected, &path),
                    "{} from {value}: path {path}, expected {expected}",
                    std::any::type_name::<T>()
                );
            }
        }
        (a, b) => panic!(
            "{} from {value}: {:?} against {:?}",
            std::any::type_name::<T>(),
            a.map(|_| "a value"),
            b.map(|_| "a value").map_err(|e| e.to_string())
        ),
    }
}

/// Whether `path` is `pattern`, where each `?` in `pattern` stands for any
/// text (a key serde_path_to_error did not see as text).
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('?') {
        None => pattern == path,
        Some((head, tail)) => {
            path.starts_with(head)
                && (head.len()..=path.len())
                    .filter(|at| path.is_char_boundary(*at))
                    .any(|at| matches(tail, &path[at..]))
        }
    }
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Colour {
    Red,
    Blue,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Unit;

#[derive(Deserialize, Debug, PartialEq)]
struct Pair(u8, String);

fn all(value: &Value) {
    same::<Order>(value);
    same::<Strict>(value);
    same::<External>(value);
    same::<Internal>(value);
    same::<Adjacent>(value);
    same::<Untagged>(value);
    same::<Flat>(value);
    same::<Holder>(value);
    same::<Checked>(value);
    same::<BTreeMap<String, Even>>(value);
    same::<Newtype>(value);
    same::<Vec<Option<Newtype>>>(value);
    same::<HashMap<String, u8>>(value);
    same::<BTreeMap<u32, bool>>(value);
    same::<BTreeMap<i64, Option<u8>>>(value);
    same::<BTreeMap<bool, u8>>(value);
    same::<BTreeMap<Id, u8>>(value);
    same::<BTreeMap<String, External>>(value);
    same::<(u8, String)>(value);
    same::<Vec<External>>(value);
    same::<Option<Vec<f64>>>(value);
    same::<char>(value);
    same::<u64>(value);
    same::<i8>(value);
    same::<()>(value);
    same::<String>(value);
    same::<Value>(value);
    same::<Vec<Value>>(value);
    same_but_keys::<BTreeMap<u8, u8>>(value);
    same_but_keys::<BTreeMap<i128, u8>>(value);
    same::<BTreeMap<char, u8>>(value);
    same::<BTreeMap<Option<String>, u8>>(value);
    same::<BTreeMap<String, BTreeMap<Colour, Unit>>>(value);
    same::<Vec<Pair>>(value);
    same::<(u128, i128)>(value);
    // A raw value: the same text.
    let ours = from_value::<Box<RawValue>>(value.clone()).map(|raw| raw.get().to_owned());
    let theirs = serde_json::from_value::<Box<RawValue>>(value.clone()).map(|r| r.get().to_owned());
    assert_eq!(
        ours.map_err(|e| e.1.to_string()),
        theirs.map_err(|e| e.to_string())
    );
}

const WORDS: &[&str] = &[
    "a", "b", "e", "i", "u", "f", "n", "t", "c", "x", "id", "name", "items", "A", "B", "C", "Dd",
    "true", "false", "7", "300", "-1", "-0", "1.5", "01", "", "a.b", "zz", "4", "1x", "1 ", "Red",
    "Blue",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

fn tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..400).prop_map(|n| json!(n)),
        prop::sample::select(&[1.5f64, -0.0, 1e16, 2.0][..]).prop_map(|f| json!(f)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// 4,000 trees in the normal test run; `III_FUZZ_CASES` for a longer one.
fn cases() -> u32 {
    std::env::var("III_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decodes_as_serde_path_to_error_does(value in tree()) {
        all(&value);
    }
}

/// Trees that reach each kind of failure, and each error's path.
#[test]
fn every_failure_is_named_at_its_path() {
    let cases = [
        json!({"a": 300, "items": []}),
        json!({"a": 1, "items": [{"id": 1, "name": "x"}, {"id": "2", "name": "y"}]}),
        json!({"a": 1}),
        json!([1, null, [], "extra"]),
        json!({"a": 1, "zz": 2}),
        json!({"e": {"B": {"x": -1}}}),
        json!({"e": {"C": [1, "x"]}}),
        json!({"e": {"C": []}}),
        json!({"e": {"C": [1, 2, 3]}}),
        json!({"e": "A"}),
        json!({"e": {"Dd": 5}}),
        json!({"e": {"Dd": null}, "i": {"t": "Q"}}),
        json!({"e": "Z"}),
        json!({"e": {}}),
        json!({"e": 5}),
        json!({"e": "Dd", "u": true}),
        json!({"e": "Dd", "f": {"a": 1, "b": "x"}}),
        json!({"e": "Dd", "n": [null, "x"]}),
        json!({"300": 1, "1x": 2, "-7": "x", "true": "x", "01": 1}),
        json!({"m": {"k": "x"}}),
        json!({"t": "A", "c": "x"}),
        json!({"a": 2, "items": [4, 7], "e": null}),
        json!({"a": 3, "items": []}),
        json!({"a": 2, "items": [], "e": {"A": 1}}),
        json!({"a": 2, "items": [], "e": {"B": {"x": 5}}}),
    ];
    for value in &cases {
        all(value);
    }
    let (path, error) = from_value::<Order>(cases[1].clone()).expect_err("a string id");
    assert_eq!(path, "items[1].id");
    assert_eq!(
        error.to_string(),
        "invalid type: string \"2\", expected i64"
    );
    let (path, _) = from_value::<Holder>(cases[6].clone()).expect_err("x is no u8");
    assert_eq!(path, "e.C[1]");
    let (path, _) = from_value::<Order>(cases[2].clone()).expect_err("no items");
    assert_eq!(path, ".");
    let (path, error) = from_value::<Checked>(cases[21].clone()).expect_err("7 is odd");
    assert_eq!(
        (path.as_str(), error.to_string().as_str()),
        ("items[1]", "7 is odd")
    );
    let (path, _) = from_value::<Checked>(cases[24].clone()).expect_err("5 is odd");
    assert_eq!(path, "e.B.x");
}
