async fn is_vip(_: serde_json::Value) -> bool {
    true
}

#[iii::function]
#[iii::trigger(subscribe, topic = "orders", condition = is_vip)]
async fn on_order(order: serde_json::Value) -> serde_json::Value {
    order
}

fn main() {}
