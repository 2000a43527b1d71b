//! Every misuse of the macros gets a spanned, actionable error (pinned in
//! `fail/*.stderr`), and every supported shape compiles (`pass/`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
