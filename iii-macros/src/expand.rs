//! Code generation for `#[iii::function]`.
//!
//! The function stays as written. Beside it: a type of the same name in the
//! type namespace (for `worker.call_fn::<name>(..)`), and one
//! `const _: () = { .. }` block holding the link-time registration, the
//! builders of the function and its triggers, and type checks spanned at
//! the user's tokens. Every path is absolute (`::iii::..` or `crate = ..`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, ItemFn, LitStr, Meta};

use crate::ast::{self, FunctionArgs, TriggerSpec};
use crate::attr::{self, Value};
use crate::ctxt::Errors;
use crate::valid::{self, Output, Shape};
use crate::{fallback, rules};

fn is_ours(attr: &Attribute, name: &str) -> bool {
    let segments = &attr.path().segments;
    segments.last().is_some_and(|s| s.ident == name) && (segments.len() == 1 || segments.len() == 2)
}

/// The doc comment, with the one leading space of each line removed.
pub fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
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
        .or_else(|| doc_comment(&func.attrs));
    let description = description.map(|d| quote!(.description(#d)));
    let metadata = args.metadata.as_ref().map(|m| {
        let text = m.to_string();
        quote!(.metadata(#krate::__private::serde_json::from_str(#text).unwrap_or_default()))
    });

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
    // The closure always takes and returns JSON, so the runtime's handler
    // bounds always hold; the user's types are checked by the helpers below,
    // each spanned at the type it checks, one error per missing trait.
    let decode = |ty: &syn::Type| {
        quote_spanned! {ty.span()=> #krate::__private::decode_input::<#ty>(input, #id)? }
    };
    let call = match (&shape.input, &shape.context) {
        (None, _) => quote!(#name()),
        (Some(ty), None) => {
            let input = decode(ty);
            quote!(#name(#input))
        }
        (Some(ty), Some(_)) => {
            let input = decode(ty);
            quote!(#name(#input, ctx))
        }
    };
    let encode =
        quote_spanned! {output_span=> #krate::__private::encode_output::<#ok_ty>(value, #id) };
    let request_format = shape.input.as_ref().map_or_else(
        || quote!(::core::option::Option::None),
        |ty| quote_spanned! {ty.span()=> #krate::__private::request_format::<#ty>() },
    );
    let response_format =
        quote_spanned! {output_span=> #krate::__private::response_format::<#ok_ty>() };
    let triggers = specs.iter().map(|spec| trigger(&krate, id, spec));
    let ref_doc = format!("Names `{id}` for `Worker::call_fn`.");

    quote! {
        #func

        #(#cfgs)*
        #[doc = #ref_doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #(#cfgs)*
        impl #krate::FunctionRef for #name {
            const ID: &'static str = #id;
            type Input = #input_ty;
            type Output = #ok_ty;
        }

        #(#cfgs)*
        const _: () = {
            #[#krate::__private::linkme::distributed_slice(#krate::__private::FUNCTIONS)]
            #[linkme(crate = #krate::__private::linkme)]
            static LINKED: #krate::__private::LinkedFunction = #krate::__private::LinkedFunction {
                id: #id,
                file: ::core::file!(),
                line: ::core::line!(),
                function: build,
                triggers: bind,
            };

            fn build() -> #krate::Function {
                #krate::Function::new(
                    #id,
                    |input: #krate::__private::serde_json::Value, ctx: #krate::Context| async move {
                        let _ = (&input, &ctx);
                        let out = #call.await;
                        let value = #wrap;
                        #encode
                    },
                )
                .request_format(#request_format)
                .response_format(#response_format)
                #description
                #metadata
            }

            fn bind() -> ::std::vec::Vec<#krate::Trigger> {
                ::std::vec![#(#triggers),*]
            }

        };
    }
}

fn json_tokens(krate: &TokenStream, value: &Value) -> TokenStream {
    let text = attr::json(value)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "{}".into());
    quote!(#krate::__private::serde_json::from_str::<#krate::__private::serde_json::Value>(#text).unwrap_or_default())
}

/// The builder expression of one trigger binding.
fn trigger(krate: &TokenStream, id: &str, spec: &TriggerSpec) -> TokenStream {
    let t = quote!(#krate::trigger);
    let s = |key: &str| spec.str(key).map(LitStr::value);
    let opt = |key: &str, method: &str| {
        let method = syn::Ident::new(method, Span::call_site());
        s(key).map(|v| quote!(.#method(#v)))
    };
    let config = match spec.kind.name {
        "http" => {
            let path = s("path").unwrap_or_default();
            let method = s("method")
                .unwrap_or_else(|| "GET".into())
                .to_ascii_uppercase();
            quote!(#t::Http::new(#method, #path))
        }
        "cron" => {
            let expression = s("expression").unwrap_or_default();
            quote!(#t::Cron::new(#expression))
        }
        "subscribe" => {
            let topic = s("topic").unwrap_or_default();
            quote!(#t::Subscribe::new(#topic))
        }
        "queue" => {
            let topic = s("topic").unwrap_or_default();
            let ints = ast::QUEUE_INTS.iter().filter_map(|key| {
                let field = syn::Ident::new(key, Span::call_site());
                spec.int(key)
                    .map(|v| quote!(#field: ::core::option::Option::Some(#v)))
            });
            let strs = ["queue_mode", "backoff_type"].iter().filter_map(|key| {
                let field = syn::Ident::new(key, Span::call_site());
                s(key).map(|v| quote!(#field: ::core::option::Option::Some(::std::string::String::from(#v))))
            });
            let fields: Vec<TokenStream> = ints.chain(strs).collect();
            if fields.is_empty() {
                quote!(#t::Queue::new(#topic))
            } else {
                quote!(#t::Queue::new(#topic).config(#t::QueueConfig { #(#fields,)* ..::core::default::Default::default() }))
            }
        }
        "state" => {
            let scope = opt("scope", "scope");
            let key = opt("key", "key");
            quote!(#t::StateChange::any() #scope #key)
        }
        "stream" => {
            let name = s("stream_name").unwrap_or_default();
            let group = opt("group_id", "group");
            let item = opt("item_id", "item");
            quote!(#t::StreamChange::new(#name) #group #item)
        }
        "log" => match s("level") {
            Some(level) => {
                let variant = syn::Ident::new(&capitalise(&level), Span::call_site());
                quote!(#t::Log::level(#t::LogLevel::#variant))
            }
            None => quote!(#t::Log::all()),
        },
        "functions_available" => quote!(#t::FunctionsAvailable),
        "workers_available" => quote!(#t::WorkersAvailable),
        _ => {
            let ty = spec
                .custom_type
                .as_ref()
                .map(LitStr::value)
                .unwrap_or_default();
            let config = spec.values.get("config").map_or_else(
                || quote!(#krate::__private::serde_json::Value::Null),
                |v| json_tokens(krate, v),
            );
            quote!(#t::Custom::new(#ty, #config))
        }
    };
    let metadata = spec.values.get("metadata").map(|v| {
        let value = json_tokens(krate, v);
        quote!(.metadata(#value))
    });
    let span = spec.span;
    quote_spanned! {span=> #krate::Trigger::new(#id, #config) #metadata }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
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
