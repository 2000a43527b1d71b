//! Parsing `key = value, ...` argument lists of the attributes.
//!
//! Values are string, integer or bool literals, paths, `[..]` lists, and
//! `{..}` JSON objects written inline.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, Lit, Token};

pub enum Value {
    Lit(Lit),
    Path(syn::Path),
    /// `[a, b]`: the items, each a value (read once `middleware` is wired).
    List(Vec<Value>, Span),
    /// `{ ... }`: JSON written inline, as tokens.
    Json(TokenStream, Span),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Lit(l) => l.span(),
            Value::Path(p) => p.span(),
            Value::List(_, s) | Value::Json(_, s) => *s,
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Value::Lit(Lit::Str(_)) => "a string",
            Value::Lit(Lit::Int(_)) => "an integer",
            Value::Lit(Lit::Bool(_)) => "a bool",
            Value::Lit(_) => "a literal",
            Value::Path(_) => "a path",
            Value::List(..) => "a list",
            Value::Json(..) => "a JSON object",
        }
    }
}

/// One `key` or `key = value`.
pub struct Arg {
    pub key: Ident,
    pub value: Option<Value>,
}

fn parse_value(input: ParseStream) -> syn::Result<Value> {
    if input.peek(Lit) {
        return Ok(Value::Lit(input.parse()?));
    }
    if input.peek(syn::token::Bracket) {
        let content;
        let bracket = syn::bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(parse_value(&content)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Value::List(items, bracket.span.join()));
    }
    if input.peek(syn::token::Brace) {
        let tree: TokenTree = input.parse()?;
        let span = tree.span();
        return Ok(Value::Json(TokenStream::from(tree), span));
    }
    if input.peek(Ident::peek_any) || input.peek(Token![::]) {
        return Ok(Value::Path(input.parse()?));
    }
    Err(input
        .error("expected a value: a string, a number, `true`/`false`, a path, `[..]` or `{..}`"))
}

fn parse_args_inner(input: ParseStream) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(parse_value(input)?)
        } else {
            None
        };
        args.push(Arg { key, value });
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

pub fn parse_args(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    parse_args_inner.parse2(tokens)
}

/// The text of a JSON value given as `{..}` or as a string literal, parsed.
pub fn json(value: &Value) -> Result<serde_json::Value, syn::Error> {
    let text = match value {
        Value::Json(tokens, _) => tokens.to_string(),
        Value::Lit(Lit::Str(s)) => s.value(),
        other => {
            return Err(syn::Error::new(
                other.span(),
                format!(
                    "expected JSON as `{{..}}` or a string, found {}",
                    other.describe()
                ),
            ));
        }
    };
    serde_json::from_str(&text)
        .map_err(|e| syn::Error::new(value.span(), format!("invalid JSON: {e}")))
}

/// The doc comment, with the one leading space of each line removed.
pub fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_string()
        })
        .collect();
    let text = lines.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}
