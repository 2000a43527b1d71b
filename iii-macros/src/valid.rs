//! Semantic checks: trigger values the engine would refuse, and function
//! signatures the runtime cannot call.

use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

use crate::ast::TriggerSpec;
use crate::attr::{Value, json};
use crate::errors::Errors;
use iii_protocol::kinds::{KeyType, TriggerKind};
use iii_protocol::rules;

/// A cron expression as the engine reads it: the shape first (6 or 7
/// fields, seconds first, with the fix for 5), then every field, by the
/// parser the engine uses (the `cron` crate 0.15), so `0 61 * * * *` is a
/// compile error instead of the engine's refusal at run time.
fn cron_expression(expression: &str) -> Result<(), String> {
    rules::validate_cron(expression)?;
    <cron::Schedule as std::str::FromStr>::from_str(expression.trim())
        .map(|_| ())
        .map_err(|e| {
            // The parser's message ends with the reason, after a copy of
            // the expression and a caret.
            let text = e.to_string();
            let reason = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&text);
            format!(
                "`{}` is not a schedule the engine reads: {}; the fields are second 0-59, minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 1-7 (1 is Sunday) or SUN-SAT, and an optional year",
                expression.trim(),
                reason.trim().trim_end_matches('.')
            )
        })
}

pub fn trigger(spec: &TriggerSpec, errors: &mut Errors) {
    let check = |errors: &mut Errors, key: &str, rule: &dyn Fn(&str) -> Result<(), String>| {
        if let Some(s) = spec.str(key)
            && let Err(reason) = rule(&s.value())
        {
            errors.at(s.span(), reason);
        }
    };
    match spec.kind {
        TriggerKind::Http => {
            check(errors, "path", &rules::validate_http_path);
            check(errors, "method", &rules::validate_http_method);
        }
        TriggerKind::Cron => check(errors, "expression", &cron_expression),
        TriggerKind::Subscribe | TriggerKind::Queue => {
            check(errors, "topic", &|v| rules::validate_required("topic", v));
        }
        TriggerKind::Stream => check(errors, "stream_name", &|v| {
            rules::validate_required("stream_name", v)
        }),
        TriggerKind::Log => check(errors, "level", &rules::validate_log_level),
        TriggerKind::Custom => {
            if let Some(ty) = &spec.custom_type
                && let Err(reason) = rules::validate_id(&ty.value())
            {
                errors.at(
                    ty.span(),
                    format!("the trigger type id is invalid: {reason}"),
                );
            }
        }
        TriggerKind::State
        | TriggerKind::StreamJoin
        | TriggerKind::StreamLeave
        | TriggerKind::FunctionsAvailable
        | TriggerKind::WorkersAvailable => {}
    }
    for key in spec.kind.keys() {
        let Some(value) = spec.values.get(key.name) else {
            continue;
        };
        match key.ty {
            KeyType::Json => match json(value) {
                Ok(v) if v.is_object() => {}
                Ok(_) => errors.at(
                    value.span(),
                    format!("`{}` must be a JSON object", key.name),
                ),
                Err(e) => errors.push(e),
            },
            KeyType::Function => {}
            KeyType::FunctionList => {
                if let Value::List(items, _) = value {
                    for item in items.iter().filter(|i| !matches!(i, Value::Path(_))) {
                        errors.at(
                            item.span(),
                            format!(
                                "`{}` lists `#[iii::function]`s by name, found {}",
                                key.name,
                                item.describe()
                            ),
                        );
                    }
                }
            }
            KeyType::Int => {
                if let Some(i) = spec.int(key.name)
                    && i.base10_parse::<u64>().is_err()
                {
                    errors.at(
                        i.span(),
                        format!("`{}` must be a non-negative integer", key.name),
                    );
                }
            }
            KeyType::Str => {}
        }
    }
    if let Some(Value::Lit(syn::Lit::Str(m))) = spec.values.get("method")
        && m.value().is_empty()
    {
        errors.at(m.span(), "method is empty; write one such as \"GET\"");
    }
}

/// How the runtime calls the function.
pub struct Shape {
    /// The input type, if the function takes one.
    pub input: Option<Type>,
    /// Whether a second parameter (the `iii::Context`) follows.
    pub context: Option<Type>,
    pub output: Output,
}

pub enum Output {
    /// `fn f()` / `-> ()`.
    Unit,
    /// `-> T`.
    Plain(Type),
    /// `-> Result<T, E>`, or an alias whose name ends in `Result`
    /// (`io::Result<T>`, `anyhow::Result<T>`, `MyResult<T>`): `T` is its
    /// first type argument.
    Result(Type),
}

pub fn signature(item: &ItemFn, errors: &mut Errors) -> Option<Shape> {
    let sig = &item.sig;
    let before = errors.len();
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "`#[iii::function]` needs an `async fn`: write `async fn`, handlers run on the worker's tokio runtime",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            "an `#[iii::function]` cannot be generic: the engine sends one concrete input type; use a concrete type or `serde_json::Value`",
        );
    }
    if let Some(c) = &sig.constness {
        errors.at(c.span, "an `#[iii::function]` cannot be `const`");
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        errors.at(
            u.span,
            "an `#[iii::function]` cannot be `unsafe`: the engine calls it with untrusted input",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v.span(), "an `#[iii::function]` cannot be variadic");
    }
    let mut types = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => errors.at(
                r.span(),
                "an `#[iii::function]` cannot take `self`: write a free `async fn` and call the method from it",
            ),
            FnArg::Typed(t) => types.push((*t.ty).clone()),
        }
    }
    if types.len() > 2 {
        errors.at(
            sig.inputs
                .iter()
                .nth(2)
                .map_or(sig.inputs.span(), |a| a.span()),
            "an `#[iii::function]` takes at most two parameters: the input and `iii::Context`",
        );
    }
    for ty in &types {
        if let Type::Reference(r) = ty {
            errors.at(
                r.span(),
                "an `#[iii::function]` parameter must be owned (the input is decoded per call); remove the `&`",
            );
        }
    }
    if let Some(ctx) = types.get(1)
        && !last_segment_is(ctx, "Context")
    {
        errors.at(ctx.span(), "the second parameter must be `iii::Context`");
    }
    let output = match &sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => match result_ok(ty) {
            Some(ok) => Output::Result(ok),
            None => Output::Plain((**ty).clone()),
        },
    };
    if errors.len() != before {
        return None;
    }
    let mut types = types.into_iter();
    Some(Shape {
        input: types.next(),
        context: types.next(),
        output,
    })
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// `T` of a return type whose last segment is named `..Result<T, ..>`.
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}
