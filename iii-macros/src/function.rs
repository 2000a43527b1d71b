//! Code generation for `#[iii::function]`.
//!
//! The function stays as written. Beside it: a type of the same name in the
//! type namespace (for `worker.call_fn::<name>(..)`), and one
//! `const _: () = { .. }` block holding the link-time registration, the
//! builders of the function and its triggers, and type checks spanned at
//! the user's tokens. Every path is absolute and goes through
//! `::iii::__private` (or `crate = ..`), so the builders can change freely.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn, LitStr, Meta};

use iii_protocol::kinds::KeyType;

use crate::ast::{self, FunctionArgs, TriggerSpec};
use crate::attr::{self, Value};
use crate::errors::Errors;
use crate::fallback;
use crate::valid::{self, Output, Shape};
use iii_protocol::rules;

fn is_ours(attr: &Attribute, name: &str) -> bool {
    let segments = &attr.path().segments;
    segments.last().is_some_and(|s| s.ident == name) && (segments.len() == 1 || segments.len() == 2)
}

pub fn function(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.at(
                Span::call_site(),
                "`#[iii::function]` goes on an `async fn`",
            );
            return fallback::emit(item, errors);
        }
    };
    let args = match attr::parse_args(args) {
        Ok(args) => ast::function_args(args, &mut errors),
        Err(e) => {
            errors.push(e);
            FunctionArgs::default()
        }
    };

    // Take our trigger attributes off the function; they are ours to expand.
    let mut trigger_attrs = Vec::new();
    func.attrs.retain(|a| {
        if is_ours(a, "trigger") {
            trigger_attrs.push(a.clone());
            false
        } else {
            true
        }
    });
    if let Some(again) = func.attrs.iter().find(|a| is_ours(a, "function")) {
        errors.at(again.span(), "`#[iii::function]` is given twice; keep one");
    }
    let mut specs = Vec::new();
    for attr in &trigger_attrs {
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        match attr::parse_args(tokens) {
            Ok(parsed) => {
                if let Some(spec) = ast::trigger_spec(parsed, attr.span(), &mut errors) {
                    valid::trigger(&spec, &mut errors);
                    specs.push(spec);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let shape = valid::signature(&func, &mut errors);
    let (id, id_span) = match &args.id {
        Some(lit) => (lit.value(), lit.span()),
        None => (func.sig.ident.to_string(), func.sig.ident.span()),
    };
    if let Err(reason) = rules::validate_id(&id) {
        errors.at(id_span, format!("the function id is invalid: {reason}"));
    }
    let Some(shape) = shape.filter(|_| errors.is_empty()) else {
        return fallback::emit(quote!(#func), errors);
    };
    generate(&func, &args, &id, &shape, &specs)
}

fn generate(
    func: &ItemFn,
    args: &FunctionArgs,
    id: &str,
    shape: &Shape,
    specs: &[TriggerSpec],
) -> TokenStream {
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::iii), |p| quote!(#p));
    let name = &func.sig.ident;
    let vis = &func.vis;
    let cfgs: Vec<&Attribute> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let description = args
        .description
        .as_ref()
        .map(LitStr::value)
        .or_else(|| attr::doc_comment(&func.attrs));
    let description = option(description.as_deref());
    let metadata_text = args.metadata.as_ref().map(|m| m.to_string());
    let metadata = option(metadata_text.as_deref());

    let unit: syn::Type = syn::parse_quote!(());
    let input_ty = shape.input.as_ref().unwrap_or(&unit);
    let output_span = match &func.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => name.span(),
    };
    let (ok_ty, wrap) = match &shape.output {
        Output::Unit => (unit.clone(), quote!(out)),
        Output::Plain(ty) => (ty.clone(), quote!(out)),
        Output::Result(ok) => (ok.clone(), {
            // Spanned at the return type: an unusable error type is
            // reported where it is written.
            let convert = quote_spanned! {output_span=>
                (&&&#krate::__private::ErrorWrap(error)).iii_error()
            };
            quote! {
                match out {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(error) => {
                        #[allow(unused_imports)]
                        use #krate::__private::{ViaAnyhow as _, ViaIii as _, ViaStd as _};
                        return ::core::result::Result::Err(#convert);
                    }
                }
            }
        }),
    };
    // The handler is a plain `fn`, JSON in and JSON out, so the runtime's
    // registration code is compiled once for all functions; the user's
    // types are checked by the helpers below, each spanned at the type it
    // checks, one error per missing trait.
    let p = quote!(#krate::__private);
    // The input is decoded before the future is made, so the future holds
    // only the user's: a smaller state machine for the compiler to build.
    let decode = match &shape.input {
        None => quote!(let _ = input;),
        Some(ty) => {
            let decoded = quote_spanned! {ty.span()=> #p::decode_input::<#ty>(input, #id) };
            quote! {
                let input = match #decoded {
                    ::core::result::Result::Ok(input) => input,
                    ::core::result::Result::Err(error) => return #p::failed(error),
                };
            }
        }
    };
    let call = match (&shape.input, &shape.context) {
        (None, _) => quote!(#name()),
        (Some(_), None) => quote!(#name(input)),
        (Some(_), Some(_)) => quote!(#name(input, ctx)),
    };
    let encode =
        quote_spanned! {output_span=> #p::encode_output::<#ok_ty>(value, #id, __iii_shape) };
    let request_format = shape.input.as_ref().map_or_else(
        || quote!(#p::no_format),
        |ty| quote_spanned! {ty.span()=> #p::request_format::<#ty> },
    );
    let response_format = quote_spanned! {output_span=> #p::response_format::<#ok_ty> };
    let mut checks = Vec::new();
    let triggers: Vec<TokenStream> = specs
        .iter()
        .map(|spec| trigger(&krate, spec, &mut checks))
        .collect();
    // Type checks of the functions the triggers name; never called, only
    // type-checked, each spanned at the user's path.
    let checks = (!checks.is_empty()).then(|| {
        quote! {
            #[allow(dead_code)]
            fn __iii_checks() { #(#checks)* }
        }
    });
    let ref_doc = format!("Names `{id}` for `Worker::call_fn`.");

    quote! {
        #func

        #(#cfgs)*
        #[doc = #ref_doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #(#cfgs)*
        impl #p::FunctionRef for #name {
            const ID: &'static str = #id;
            type Input = #input_ty;
            type Output = #ok_ty;
        }

        #(#cfgs)*
        const _: () = {
            fn __iii_handler(
                input: #p::serde_json::Value,
                ctx: #p::Context,
            ) -> #p::BoxFuture<::core::result::Result<#p::Output, #p::Error>> {
                #decode
                let __iii_shape = #p::output_shape(&ctx);
                #p::boxed(#call, move |out| {
                    let value = #wrap;
                    #encode
                })
            }

            #checks

            static SPEC: #p::FunctionSpec = #p::FunctionSpec {
                id: #id,
                description: #description,
                metadata: #metadata,
                request_format: #request_format,
                response_format: #response_format,
                handler: __iii_handler,
                triggers: &[#(#triggers),*],
            };

            #[#p::linkme::distributed_slice(#p::FUNCTIONS)]
            #[linkme(crate = #p::linkme)]
            static LINKED: #p::LinkedFunction =
                #p::linked_function(&SPEC, ::core::file!(), ::core::line!());
        };
    }
}

fn option(text: Option<&str>) -> TokenStream {
    match text {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// The static data of one trigger binding: the kind and its checked keys,
/// which `__private::trigger` maps onto the typed builders when the worker
/// registers. The type checks of the functions it names go to `checks`.
fn trigger(krate: &TokenStream, spec: &TriggerSpec, checks: &mut Vec<TokenStream>) -> TokenStream {
    let p = quote!(#krate::__private);
    let kind = syn::Ident::new(&format!("{:?}", spec.kind), Span::call_site());
    let custom_type = option(spec.custom_type.as_ref().map(LitStr::value).as_deref());
    // Checks spanned at the user's paths: each must name an
    // `#[iii::function]` (so it has a `FunctionRef`) with the right output.
    let mut function_id = |path: &syn::Path, output: &str| {
        let check = syn::Ident::new(output, Span::call_site());
        checks.push(quote_spanned! {path.span()=>
            #p::#check::<<#path as #p::FunctionRef>::Output>();
        });
        quote_spanned! {path.span()=> <#path as #p::FunctionRef>::ID }
    };
    let mut args = Vec::new();
    for (key, value) in &spec.values {
        let arg = match value {
            Value::Lit(syn::Lit::Str(s))
                if spec.kind.key(key).is_some_and(|k| k.ty == KeyType::Str) =>
            {
                let text = s.value();
                quote!(#p::Arg::Str(#text))
            }
            Value::Lit(syn::Lit::Int(i)) => {
                let Ok(n) = i.base10_parse::<u64>() else {
                    continue;
                };
                quote!(#p::Arg::Int(#n))
            }
            Value::Path(path) => {
                let id = function_id(path, "condition_output");
                quote!(#p::Arg::Function(#id))
            }
            Value::List(items, _) => {
                let ids: Vec<TokenStream> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Path(path) => Some(function_id(path, "middleware_output")),
                        _ => None,
                    })
                    .collect();
                quote!(#p::Arg::Functions(&[#(#ids),*]))
            }
            other => {
                let Ok(json) = attr::json(other) else {
                    continue;
                };
                let text = json.to_string();
                quote!(#p::Arg::Json(#text))
            }
        };
        args.push(quote!((#key, #arg)));
    }
    let span = spec.span;
    quote_spanned! {span=>
        #p::TriggerSpec {
            kind: #p::TriggerKind::#kind,
            custom_type: #custom_type,
            args: &[#(#args),*],
        }
    }
}

/// `#[iii::trigger]` reached on its own: it is above `#[iii::function]` or
/// there is none. Either way it is a mistake; say which.
pub fn misplaced_trigger(item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let below = syn::parse2::<ItemFn>(item.clone())
        .map(|f| f.attrs.iter().any(|a| is_ours(a, "function")))
        .unwrap_or(false);
    if below {
        errors.at(
            Span::call_site(),
            "`#[iii::trigger]` must come below `#[iii::function]`; move it under the function attribute",
        );
    } else {
        errors.at(
            Span::call_site(),
            "`#[iii::trigger]` needs `#[iii::function]` on the same function, above it",
        );
    }
    fallback::emit(item, errors)
}
