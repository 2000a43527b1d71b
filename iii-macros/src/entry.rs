//! `#[iii::main]`: a `main` that connects a worker from the environment,
//! runs the body, then serves until ctrl-c.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Lit, ReturnType};

use crate::attr::{self, Arg, Value};
use crate::errors::Errors;
use crate::fallback;

pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let Ok(func) = syn::parse2::<ItemFn>(item.clone()) else {
        errors.at(Span::call_site(), "`#[iii::main]` goes on `async fn main`");
        return fallback::emit(item, errors);
    };
    let (mut name, mut krate) = (None, None);
    for Arg { key, value } in attr::parse_args(args).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    }) {
        match (key.to_string().as_str(), value) {
            ("name", Some(Value::Lit(Lit::Str(s)))) => name = Some(s.value()),
            ("crate", Some(Value::Path(p))) => krate = Some(quote!(#p)),
            _ => errors.at(
                key.span(),
                format!(
                    "unknown key `{key}`; `#[iii::main]` takes `name = \"..\"` and `crate = path`"
                ),
            ),
        }
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(sig.fn_token.span, "`#[iii::main]` needs `async fn main`");
    }
    if sig.ident != "main" {
        errors.at(sig.ident.span(), "`#[iii::main]` goes on `main`");
    }
    if let Some(extra) = sig.inputs.iter().nth(1) {
        errors.at(
            extra.span(),
            "`#[iii::main]` takes no parameter, or one: `worker: iii::Worker`",
        );
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        errors.at(r.span(), "`#[iii::main]` cannot take `self`");
    }
    if !errors.is_empty() {
        // An `async fn main` left as written would add rustc's own "`main`
        // is not allowed to be `async`" to our errors.
        if sig.asyncness.is_some() {
            let vis = &func.vis;
            let ident = &sig.ident;
            return fallback::emit(quote!(#vis fn #ident() {}), errors);
        }
        return fallback::emit(item, errors);
    }
    let krate = krate.unwrap_or_else(|| quote!(::iii));
    let name = name.map_or_else(
        || quote!(::core::option::Option::None),
        |n| quote!(::core::option::Option::Some(#n)),
    );
    let body = &func.block;
    let attrs = &func.attrs;
    let (param, arg) = match sig.inputs.first() {
        Some(FnArg::Typed(t)) => {
            let pat = &t.pat;
            let ty = &t.ty;
            (quote!(#pat: #ty), quote!(worker))
        }
        _ => (quote!(), quote!()),
    };
    let run_body = match &sig.output {
        ReturnType::Default => quote!({
            user(#arg).await;
            ::core::result::Result::Ok(())
        }),
        ReturnType::Type(..) => quote!(user(#arg).await.map_err(::core::convert::Into::into)),
    };
    let output = &sig.output;
    let vis = &func.vis;
    quote! {
        #(#attrs)*
        #vis fn main() -> ::core::result::Result<(), #krate::__private::Error> {
            async fn user(#param) #output #body
            #krate::__private::run_main(#name, |worker| async move {
                let _ = &worker;
                #run_body
            })
        }
    }
}
