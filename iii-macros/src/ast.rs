//! The typed model of the attributes: what `#[iii::function(..)]` and each
//! `#[iii::trigger(..)]` say, with spans kept for error messages.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::{Lit, LitStr};

use crate::attr::{Arg, Value, json};
use crate::ctxt::Errors;

/// `#[iii::function(id = .., description = .., metadata = .., crate = ..)]`.
#[derive(Default)]
pub struct FunctionArgs {
    pub id: Option<LitStr>,
    pub description: Option<LitStr>,
    pub metadata: Option<serde_json::Value>,
    pub krate: Option<syn::Path>,
}

const FUNCTION_KEYS: &str = "`id`, `description`, `metadata` and `crate`";

fn duplicate(errors: &mut Errors, key: &syn::Ident) {
    errors.at(key.span(), format!("duplicate key `{key}`; give it once"));
}

fn want_str(errors: &mut Errors, key: &syn::Ident, value: Option<Value>) -> Option<LitStr> {
    match value {
        Some(Value::Lit(Lit::Str(s))) => Some(s),
        Some(other) => {
            errors.at(
                other.span(),
                format!("`{key}` takes a string, found {}", other.describe()),
            );
            None
        }
        None => {
            errors.at(
                key.span(),
                format!("`{key}` needs a value: `{key} = \"...\"`"),
            );
            None
        }
    }
}

pub fn function_args(args: Vec<Arg>, errors: &mut Errors) -> FunctionArgs {
    let mut out = FunctionArgs::default();
    let mut seen = Vec::new();
    for Arg { key, value } in args {
        let name = key.to_string();
        if seen.contains(&name) {
            duplicate(errors, &key);
            continue;
        }
        seen.push(name.clone());
        match name.as_str() {
            "id" => out.id = want_str(errors, &key, value),
            "description" => out.description = want_str(errors, &key, value),
            "metadata" => match value {
                Some(v) => match json(&v) {
                    Ok(j) if j.is_object() => out.metadata = Some(j),
                    Ok(_) => errors.at(
                        v.span(),
                        "`metadata` must be a JSON object, such as `{\"team\": \"billing\"}`",
                    ),
                    Err(e) => errors.push(e),
                },
                None => errors.at(
                    key.span(),
                    "`metadata` needs a value: `metadata = {\"team\": \"billing\"}`",
                ),
            },
            "crate" => match value {
                Some(Value::Path(p)) => out.krate = Some(p),
                Some(Value::Lit(Lit::Str(s))) => match s.parse::<syn::Path>() {
                    Ok(p) => out.krate = Some(p),
                    Err(_) => errors.at(s.span(), "`crate` takes a path, such as `crate = my_iii`"),
                },
                _ => errors.at(key.span(), "`crate` takes a path, such as `crate = my_iii`"),
            },
            _ => errors.at(
                key.span(),
                format!("unknown key `{key}`; `#[iii::function]` takes {FUNCTION_KEYS}"),
            ),
        }
    }
    out
}

/// What kind of value a trigger key takes.
#[derive(Clone, Copy, PartialEq)]
pub enum Ty {
    Str,
    Int,
    Json,
    Path,
    List,
}

/// Every trigger key: its name and value type.
pub const KEYS: &[(&str, Ty)] = &[
    ("path", Ty::Str),
    ("method", Ty::Str),
    ("expression", Ty::Str),
    ("topic", Ty::Str),
    ("scope", Ty::Str),
    ("key", Ty::Str),
    ("stream_name", Ty::Str),
    ("group_id", Ty::Str),
    ("item_id", Ty::Str),
    ("level", Ty::Str),
    ("queue_mode", Ty::Str),
    ("backoff_type", Ty::Str),
    ("max_retries", Ty::Int),
    ("concurrency", Ty::Int),
    ("visibility_timeout", Ty::Int),
    ("delay_seconds", Ty::Int),
    ("backoff_delay_ms", Ty::Int),
    ("max_priority", Ty::Int),
    ("config", Ty::Json),
    ("metadata", Ty::Json),
    ("condition", Ty::Path),
    ("middleware", Ty::List),
];

/// The integer settings of a `queue` trigger.
pub const QUEUE_INTS: [&str; 6] = [
    "max_retries",
    "concurrency",
    "visibility_timeout",
    "delay_seconds",
    "backoff_delay_ms",
    "max_priority",
];

/// A trigger kind: its name, its keys, and which of them are required.
pub struct Kind {
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub required: &'static [&'static str],
}

const QUEUE_KEYS: &[&str] = &[
    "topic",
    "max_retries",
    "concurrency",
    "visibility_timeout",
    "delay_seconds",
    "backoff_type",
    "backoff_delay_ms",
    "max_priority",
    "queue_mode",
    "condition",
    "metadata",
];

pub const KINDS: &[Kind] = &[
    Kind {
        name: "http",
        keys: &["path", "method", "condition", "middleware", "metadata"],
        required: &["path"],
    },
    Kind {
        name: "cron",
        keys: &["expression", "condition", "metadata"],
        required: &["expression"],
    },
    Kind {
        name: "subscribe",
        keys: &["topic", "condition", "metadata"],
        required: &["topic"],
    },
    Kind {
        name: "queue",
        keys: QUEUE_KEYS,
        required: &["topic"],
    },
    Kind {
        name: "state",
        keys: &["scope", "key", "condition", "metadata"],
        required: &[],
    },
    Kind {
        name: "stream",
        keys: &[
            "stream_name",
            "group_id",
            "item_id",
            "condition",
            "metadata",
        ],
        required: &["stream_name"],
    },
    Kind {
        name: "log",
        keys: &["level", "metadata"],
        required: &[],
    },
    Kind {
        name: "functions_available",
        keys: &["metadata"],
        required: &[],
    },
    Kind {
        name: "workers_available",
        keys: &["metadata"],
        required: &[],
    },
    Kind {
        name: "custom",
        keys: &["config", "condition", "metadata"],
        required: &[],
    },
];

pub fn kind_names() -> String {
    KINDS
        .iter()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `#[iii::trigger(..)]`, parsed and type-checked key by key.
pub struct TriggerSpec {
    pub kind: &'static Kind,
    /// For `custom = "type-id"`.
    pub custom_type: Option<LitStr>,
    pub values: BTreeMap<&'static str, Value>,
    pub span: Span,
}

impl TriggerSpec {
    pub fn str(&self, key: &str) -> Option<&LitStr> {
        match self.values.get(key) {
            Some(Value::Lit(Lit::Str(s))) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<&syn::LitInt> {
        match self.values.get(key) {
            Some(Value::Lit(Lit::Int(i))) => Some(i),
            _ => None,
        }
    }
}

fn matches_type(ty: Ty, value: &Value) -> bool {
    matches!(
        (ty, value),
        (Ty::Str, Value::Lit(Lit::Str(_)))
            | (Ty::Int, Value::Lit(Lit::Int(_)))
            | (Ty::Json, Value::Json(..) | Value::Lit(Lit::Str(_)))
            | (Ty::Path, Value::Path(_))
            | (Ty::List, Value::List(..))
    )
}

fn type_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Str => "a string",
        Ty::Int => "an integer",
        Ty::Json => "a JSON object",
        Ty::Path => "a function path",
        Ty::List => "a list",
    }
}

pub fn trigger_spec(args: Vec<Arg>, span: Span, errors: &mut Errors) -> Option<TriggerSpec> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        errors.at(
            span,
            format!(
                "`#[iii::trigger]` needs a kind first: one of {}",
                kind_names()
            ),
        );
        return None;
    };
    let first_name = first.key.to_string();
    let Some(kind) = KINDS.iter().find(|k| k.name == first_name) else {
        errors.at(
            first.key.span(),
            format!(
                "unknown trigger kind `{first_name}`; expected one of {}",
                kind_names()
            ),
        );
        return None;
    };
    let custom_type = match (kind.name, first.value) {
        ("custom", Some(Value::Lit(Lit::Str(s)))) => Some(s),
        ("custom", _) => {
            errors.at(
                first.key.span(),
                "a custom trigger names its type: `custom = \"my-type\"`",
            );
            return None;
        }
        (_, Some(v)) => {
            errors.at(
                v.span(),
                format!("the kind `{first_name}` takes no value; write `{first_name}, key = ..`"),
            );
            None
        }
        (_, None) => None,
    };
    let mut values = BTreeMap::new();
    // Keys given at all, valid or not: a bad value is not also "missing".
    let mut given = Vec::new();
    for Arg { key, value } in args {
        let name = key.to_string();
        let Some(&(static_name, ty)) = KEYS.iter().find(|(k, _)| *k == name) else {
            errors.at(
                key.span(),
                format!(
                    "unknown key `{name}` for a `{}` trigger; it takes {}",
                    kind.name,
                    list(kind.keys)
                ),
            );
            continue;
        };
        if !kind.keys.contains(&static_name) {
            let owners: Vec<&str> = KINDS
                .iter()
                .filter(|k| k.keys.contains(&static_name))
                .map(|k| k.name)
                .collect();
            errors.at(
                key.span(),
                format!(
                    "`{name}` does not apply to `{}` triggers (it belongs to {}); `{}` takes {}",
                    kind.name,
                    list(&owners),
                    kind.name,
                    list(kind.keys)
                ),
            );
            continue;
        }
        if given.contains(&static_name) {
            duplicate(errors, &key);
            continue;
        }
        given.push(static_name);
        let Some(value) = value else {
            errors.at(key.span(), format!("`{name}` needs a value: `{name} = ..`"));
            continue;
        };
        if !matches_type(ty, &value) {
            errors.at(
                value.span(),
                format!(
                    "`{name}` takes {}, found {}",
                    type_name(ty),
                    value.describe()
                ),
            );
            continue;
        }
        values.insert(static_name, value);
    }
    for required in kind.required {
        if !given.contains(required) {
            errors.at(
                first.key.span(),
                format!(
                    "`{}` triggers need `{required}`, e.g. `#[iii::trigger({}, {required} = ..)]`",
                    kind.name, kind.name
                ),
            );
        }
    }
    Some(TriggerSpec {
        kind,
        custom_type,
        values,
        span,
    })
}

fn list(keys: &[&str]) -> String {
    match keys.len() {
        0 => "no keys".into(),
        _ => keys
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
