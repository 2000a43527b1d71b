#[derive(schemars::JsonSchema)]
struct Order {
    id: u64,
}

#[iii::function]
async fn place(order: Order) -> u64 {
    order.id
}

fn main() {}
