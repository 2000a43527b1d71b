#[iii::function]
#[iii::trigger(http, path = "/orders", middleware = ["auth::check"])]
async fn orders(_: serde_json::Value) -> serde_json::Value {
    serde_json::Value::Null
}

fn main() {}
