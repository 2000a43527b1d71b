use iii::http::{ApiRequest, ApiResponse, MiddlewareInput, MiddlewareVerdict};

/// Only big orders.
#[iii::function(id = "orders::is_big")]
async fn is_big(order: serde_json::Value) -> bool {
    order["amount"].as_u64().unwrap_or(0) > 1000
}

#[iii::function(id = "orders::auth")]
async fn auth(input: MiddlewareInput) -> MiddlewareVerdict {
    match input.request.headers.get("authorization") {
        Some(_) => MiddlewareVerdict::Continue,
        None => MiddlewareVerdict::respond(ApiResponse::new(401, serde_json::json!({}))),
    }
}

#[iii::function(id = "orders::take")]
#[iii::trigger(http, path = "/orders", method = "POST", condition = is_big, middleware = [auth])]
#[iii::trigger(cron, expression = "0 0 * * * *", condition = is_big)]
async fn take(_: ApiRequest) -> ApiResponse {
    ApiResponse::ok(serde_json::json!({}))
}

fn main() {
    let take = iii::linked::functions().find(|f| f.id() == "orders::take").unwrap();
    let triggers = take.triggers();
    let http = triggers[0].config().unwrap();
    assert_eq!(http["condition_function_id"], "orders::is_big");
    assert_eq!(http["middleware_function_ids"], serde_json::json!(["orders::auth"]));
    assert_eq!(triggers[1].config().unwrap()["condition_function_id"], "orders::is_big");
}
