#[iii::function]
#[iii::trigger(http, method = "POST")]
async fn create(body: serde_json::Value) -> serde_json::Value {
    body
}

fn main() {}
