//! What an expansion emits when the attribute is wrong: the errors, and the
//! function exactly as written (minus our attributes), so the rest of the
//! crate still compiles and only the real mistakes are reported.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub fn emit(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote! {
        #errors
        #item
    }
}
