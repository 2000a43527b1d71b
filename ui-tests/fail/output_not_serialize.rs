#[derive(schemars::JsonSchema)]
struct Receipt {
    id: u64,
}

#[iii::function]
async fn place(id: u64) -> Receipt {
    Receipt { id }
}

fn main() {}
