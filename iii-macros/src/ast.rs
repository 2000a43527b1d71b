//! The typed model of the attributes: what `#[iii::function(..)]` and each
//! `#[iii::trigger(..)]` say, with spans kept for error messages.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::{Lit, LitStr};

use iii_protocol::kinds::{KeyType, TriggerKind};

use crate::attr::{Arg, Value, json};
use crate::errors::Errors;

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

pub fn kind_names() -> String {
    TriggerKind::ALL
        .iter()
        .map(|k| format!("`{}`", k.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One `#[iii::trigger(..)]`, parsed and type-checked key by key.
pub struct TriggerSpec {
    pub kind: TriggerKind,
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

fn matches_type(ty: KeyType, value: &Value) -> bool {
    match ty {
        KeyType::Str => matches!(value, Value::Lit(Lit::Str(_))),
        KeyType::Int => matches!(value, Value::Lit(Lit::Int(_))),
        KeyType::Json => matches!(value, Value::Json(..) | Value::Lit(Lit::Str(_))),
        KeyType::Function => matches!(value, Value::Path(_)),
        KeyType::FunctionList => matches!(value, Value::List(..)),
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
    let Some(kind) = TriggerKind::from_name(&first_name) else {
        errors.at(
            first.key.span(),
            format!(
                "unknown trigger kind `{first_name}`; expected one of {}",
                kind_names()
            ),
        );
        return None;
    };
    let custom_type = match (kind, first.value) {
        (TriggerKind::Custom, Some(Value::Lit(Lit::Str(s)))) => Some(s),
        (TriggerKind::Custom, _) => {
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
        let Some(table_key) = kind.key(&name) else {
            let owners: Vec<&str> = TriggerKind::owners_of(&name).map(|k| k.name()).collect();
            let message = if owners.is_empty() {
                format!(
                    "unknown key `{name}` for a `{kind}` trigger; it takes {}",
                    keys_of(kind)
                )
            } else {
                format!(
                    "`{name}` does not apply to `{kind}` triggers (it belongs to {}); `{kind}` takes {}",
                    list(&owners),
                    keys_of(kind)
                )
            };
            errors.at(key.span(), message);
            continue;
        };
        let (static_name, ty) = (table_key.name, table_key.ty);
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
                    ty.describe(),
                    value.describe()
                ),
            );
            continue;
        }
        values.insert(static_name, value);
    }
    for required in kind.keys().iter().filter(|k| k.required) {
        if !given.contains(&required.name) {
            let required = required.name;
            errors.at(
                first.key.span(),
                format!(
                    "`{kind}` triggers need `{required}`, e.g. `#[iii::trigger({kind}, {required} = ..)]`"
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

fn keys_of(kind: TriggerKind) -> String {
    let names: Vec<&str> = kind.keys().iter().map(|k| k.name).collect();
    list(&names)
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
