//! `#[iii::trigger_type(id = "..", description = "..")]` on a type that
//! implements `TriggerTypeHandler` and `Default`: the worker registers the
//! provider when it connects.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Item, Lit};

use crate::attr::doc_comment;
use crate::attr::{self, Arg, Value};
use crate::errors::Errors;
use crate::fallback;
use iii_protocol::rules;

pub fn trigger_type(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (name, attrs) = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(s)) => (s.ident, s.attrs),
        Ok(Item::Enum(e)) => (e.ident, e.attrs),
        _ => {
            errors.at(
                Span::call_site(),
                "`#[iii::trigger_type]` goes on a struct or enum that implements `iii::trigger_type::TriggerTypeHandler` and `Default`",
            );
            return fallback::emit(item, errors);
        }
    };
    let args = attr::parse_args(args).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    let (mut id, mut description, mut krate) = (None, None, None);
    for Arg { key, value } in args {
        match (key.to_string().as_str(), value) {
            ("id", Some(Value::Lit(Lit::Str(s)))) if id.is_none() => id = Some(s),
            ("description", Some(Value::Lit(Lit::Str(s)))) if description.is_none() => description = Some(s.value()),
            ("crate", Some(Value::Path(p))) if krate.is_none() => krate = Some(quote!(#p)),
            ("id" | "description" | "crate", _) => errors.at(
                key.span(),
                format!("`{key}` is given twice or without its value (`id = \"..\"`, `description = \"..\"`, `crate = path`)"),
            ),
            _ => errors.at(
                key.span(),
                format!("unknown key `{key}`; `#[iii::trigger_type]` takes `id`, `description` and `crate`"),
            ),
        }
    }
    let Some(id) = id else {
        errors.at(
            Span::call_site(),
            "`#[iii::trigger_type]` needs an `id`, e.g. `#[iii::trigger_type(id = \"ticker\")]`",
        );
        return fallback::emit(item, errors);
    };
    if let Err(reason) = rules::validate_id(&id.value()) {
        errors.at(
            id.span(),
            format!("the trigger type id is invalid: {reason}"),
        );
    }
    let Some(description) = description.or_else(|| doc_comment(&attrs)) else {
        errors.at(
            name.span(),
            "a trigger type needs a description (the engine drops types without one): add a doc comment or `description = \"..\"`",
        );
        return fallback::emit(item, errors);
    };
    if !errors.is_empty() {
        return fallback::emit(item, errors);
    }
    let krate = krate.unwrap_or_else(|| quote!(::iii));
    let register = quote_spanned! {name.span()=>
        #krate::__private::register_provider::<#name>(worker, #id, #description)
    };
    quote! {
        #item

        const _: () = {
            #[#krate::__private::linkme::distributed_slice(#krate::__private::TRIGGER_TYPES)]
            #[linkme(crate = #krate::__private::linkme)]
            static LINKED: #krate::__private::LinkedTriggerType =
                #krate::__private::linked_trigger_type(#id, ::core::file!(), ::core::line!(), register);

            fn register(worker: &#krate::__private::Worker) -> ::core::result::Result<#krate::__private::TriggerTypeHandle, #krate::__private::Error> {
                #register
            }
        };
    }
}
