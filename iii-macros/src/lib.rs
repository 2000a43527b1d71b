//! Attribute macros of the iii SDK. Use them through the `iii` crate:
//! `#[iii::function]` and `#[iii::trigger]`; see the docs there.

mod ast;
mod attr;
mod entry;
mod errors;
mod fallback;
mod function;
mod trigger_type;
mod valid;

use proc_macro::TokenStream;

/// Registers an `async fn` as an iii function. See `iii::function`.
#[proc_macro_attribute]
pub fn function(args: TokenStream, item: TokenStream) -> TokenStream {
    function::function(args.into(), item.into()).into()
}

/// Binds a trigger to an `#[iii::function]`. See `iii::trigger`.
#[proc_macro_attribute]
pub fn trigger(_args: TokenStream, item: TokenStream) -> TokenStream {
    function::misplaced_trigger(item.into()).into()
}

/// Registers a trigger-type provider. See `iii::trigger_type`.
#[proc_macro_attribute]
pub fn trigger_type(args: TokenStream, item: TokenStream) -> TokenStream {
    trigger_type::trigger_type(args.into(), item.into()).into()
}

/// A `main` that connects a worker and serves. See `iii::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::main(args.into(), item.into()).into()
}
