async fn is_vip(_: serde_json::Value) -> bool {
    true
}

#[iii::function]
#[iii::trigger(cron, expression = "0 * * * * *", condition = is_vip)]
async fn on_order(order: serde_json::Value) -> serde_json::Value {
    order
}

fn main() {}
