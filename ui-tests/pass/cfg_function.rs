#[cfg(any())]
#[iii::function]
async fn never_compiled(x: NotEvenAType) -> u8 {
    x
}

#[cfg(all())]
#[iii::function]
async fn compiled(x: u8) -> u8 {
    x
}

fn main() {
    assert!(iii::linked::functions().any(|f| f.id() == "compiled"));
    assert!(!iii::linked::functions().any(|f| f.id() == "never_compiled"));
}
