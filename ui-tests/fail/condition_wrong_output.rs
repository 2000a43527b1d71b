use iii::http::ApiRequest;

/// Answers a number, not whether to go on.
#[iii::function]
async fn score(_: serde_json::Value) -> u32 {
    7
}

/// Not a middleware: it answers a string.
#[iii::function]
async fn greet(_: serde_json::Value) -> String {
    "hi".into()
}

#[iii::function]
#[iii::trigger(http, path = "/orders", condition = score, middleware = [greet])]
async fn orders(_: ApiRequest) -> serde_json::Value {
    serde_json::Value::Null
}

fn main() {}
