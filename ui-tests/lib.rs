//! See `tests/ui.rs` and the cases under `pass/` and `fail/`.
