#[iii::function]
#[iii::trigger(webhook, path = "/hook")]
async fn hook(body: serde_json::Value) -> serde_json::Value {
    body
}

fn main() {}
