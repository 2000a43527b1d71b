//! A small order flow across trigger kinds:
//!
//! 1. `POST /orders` (http), guarded by a middleware that wants an API key
//!    and a condition that wants a positive amount, emits `order.created`;
//! 2. a `subscribe` step records the order in the typed stream `orders`;
//! 3. a `cron` step, every second, ships the open orders (its condition
//!    skips the fire when there are none);
//! 4. a `stream` step reports every change of the stream.
//!
//! `cargo run --example flow` drives it end to end and exits. With `III_URL`
//! (and `III_HTTP_URL`, default `http://127.0.0.1:3111`) it uses that engine.

use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse, MiddlewareInput, MiddlewareVerdict};
use iii::state::UpdateOp;
use iii::stream::{ItemEvent, StreamEvent};
use iii::{Context, Error};
use iii_examples::post;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

const STREAM: &str = "orders";

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct Order {
    id: String,
    amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Status {
    id: String,
    amount: u64,
    state: String,
}

/// Lets a request through only with the demo API key.
#[iii::function(id = "flow::auth")]
async fn auth(input: MiddlewareInput) -> MiddlewareVerdict {
    match input.request.headers.get("x-api-key").map(String::as_str) {
        Some("demo") => MiddlewareVerdict::Continue,
        _ => MiddlewareVerdict::respond(ApiResponse::new(
            401,
            json!({"error": "missing or wrong x-api-key"}),
        )),
    }
}

/// Only orders with a positive amount.
#[iii::function(id = "flow::is_valid")]
async fn is_valid(req: ApiRequest) -> bool {
    req.body["amount"].as_u64().unwrap_or(0) > 0
}

/// Takes an order and announces it.
#[iii::function(id = "flow::create")]
#[iii::trigger(http, path = "/orders", method = "POST", condition = is_valid, middleware = [auth])]
async fn create(req: ApiRequest<Order>, ctx: Context) -> Result<ApiResponse, Error> {
    ctx.emit("order.created", &req.body).await?;
    Ok(ApiResponse::new(201, json!({"id": req.body.id})))
}

/// Records each new order as open.
#[iii::function(id = "flow::track")]
#[iii::trigger(subscribe, topic = "order.created")]
async fn track(order: Order, ctx: Context) -> Result<(), Error> {
    let status = Status {
        id: order.id.clone(),
        amount: order.amount,
        state: "open".into(),
    };
    ctx.stream::<Status>(STREAM)
        .set("all", &order.id, &status)
        .await?;
    Ok(())
}

/// Whether any order is open (the sweep's condition).
#[iii::function(id = "flow::has_open")]
async fn has_open(_tick: serde_json::Value, ctx: Context) -> Result<bool, Error> {
    let orders = ctx.stream::<Status>(STREAM).list("all").await?;
    Ok(orders.iter().any(|o| o.state == "open"))
}

/// Ships the open orders, every second.
#[iii::function(id = "flow::sweep")]
#[iii::trigger(cron, expression = "* * * * * *", condition = has_open)]
async fn sweep(_tick: serde_json::Value, ctx: Context) -> Result<(), Error> {
    let orders = ctx.stream::<Status>(STREAM);
    for order in orders.list("all").await? {
        if order.state == "open" {
            let ship = UpdateOp::Set {
                path: "state".into(),
                value: json!("shipped"),
            };
            orders.update("all", &order.id, vec![ship]).await?;
        }
    }
    Ok(())
}

static EVENTS: std::sync::OnceLock<mpsc::UnboundedSender<StreamEvent<Status>>> =
    std::sync::OnceLock::new();

/// Reports every change of the stream.
#[iii::function(id = "flow::watch")]
#[iii::trigger(stream, stream_name = "orders")]
async fn watch(event: StreamEvent<Status>) {
    if let ItemEvent::Create { data } | ItemEvent::Update { data } = &event.event {
        println!(
            "  order {}: {} ({} cents)",
            data.id, data.state, data.amount
        );
    }
    if let Some(tx) = EVENTS.get() {
        let _ = tx.send(event);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut events) = mpsc::unbounded_channel();
    let _ = EVENTS.set(tx);
    let worker = iii_examples::worker("flow-example", false)
        .connect()
        .await?;
    let http_url = iii_examples::http_url(&worker);
    worker.flush().await?;

    let order = json!({"id": format!("o-{}", std::process::id()), "amount": 4200}).to_string();
    let (status, body) = post(&http_url, "/orders", &[], order.as_bytes()).await?;
    println!("POST /orders without a key -> {status} {body}");
    assert_eq!(status, 401, "the middleware answers");
    let free = json!({"id": "free", "amount": 0}).to_string();
    let (status, _) = post(
        &http_url,
        "/orders",
        &[("x-api-key", "demo")],
        free.as_bytes(),
    )
    .await?;
    println!("POST /orders with amount 0 -> {status}");
    assert_eq!(status, 422, "the condition says no");
    let (status, body) = post(
        &http_url,
        "/orders",
        &[("x-api-key", "demo")],
        order.as_bytes(),
    )
    .await?;
    println!("POST /orders -> {status} {body}");
    assert_eq!(status, 201);

    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(event) = events.recv().await {
            if matches!(&event.event, ItemEvent::Update { data } if data.state == "shipped") {
                return;
            }
        }
    })
    .await?;
    println!("the order went from the http step to the stream and was shipped by the cron step");
    worker.shutdown().await;
    Ok(())
}

/// Each step alone, on `iii::testing::TestContext`: no engine
/// (`cargo test -p iii-examples --example flow`).
#[cfg(test)]
mod tests {
    use super::*;
    use iii::http::MiddlewareRequest;
    use iii::testing::{TestContext, WriteKind};

    fn open(id: &str, amount: u64) -> Status {
        Status {
            id: id.into(),
            amount,
            state: "open".into(),
        }
    }

    #[tokio::test]
    async fn the_middleware_wants_the_demo_key() {
        let request = |key: Option<&str>| MiddlewareInput {
            phase: "preHandler".into(),
            request: MiddlewareRequest {
                method: "POST".into(),
                path_params: Default::default(),
                query_params: Default::default(),
                headers: key
                    .map(|k| [("x-api-key".to_string(), k.to_string())].into())
                    .unwrap_or_default(),
            },
            context: serde_json::Value::Null,
        };
        assert_eq!(
            auth(request(Some("demo"))).await,
            MiddlewareVerdict::Continue
        );
        for wrong in [None, Some("guess")] {
            let MiddlewareVerdict::Respond { response } = auth(request(wrong)).await else {
                panic!("{wrong:?} got through");
            };
            assert_eq!(response.status_code, 401);
        }
    }

    #[tokio::test]
    async fn the_condition_wants_a_positive_amount() {
        let req = |amount| {
            ApiRequest::builder("POST", "/orders")
                .json(json!({"id": "o1", "amount": amount}))
                .build()
        };
        assert!(is_valid(req(1)).await);
        assert!(!is_valid(req(0)).await);
    }

    #[tokio::test]
    async fn create_announces_the_order() -> Result<(), Error> {
        let kit = TestContext::new();
        let req = ApiRequest::builder("POST", "/orders")
            .json(Order {
                id: "o1".into(),
                amount: 4200,
            })
            .build();
        let res = create(req, kit.context()).await?;
        assert_eq!((res.status_code, &res.body), (201, &json!({"id": "o1"})));
        let published = kit.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].topic(), "order.created");
        assert_eq!(
            published[0].data_json(),
            &json!({"id": "o1", "amount": 4200})
        );
        Ok(())
    }

    #[tokio::test]
    async fn track_records_the_order_as_open() -> Result<(), Error> {
        let kit = TestContext::new();
        let order = Order {
            id: "o1".into(),
            amount: 4200,
        };
        track(order, kit.context()).await?;
        let writes = kit.stream_writes();
        assert_eq!(
            (writes[0].kind(), writes[0].stream(), writes[0].item()),
            (&WriteKind::Set, STREAM, Some("o1"))
        );
        assert_eq!(
            kit.stream_item::<Status>(STREAM, "all", "o1")?,
            Some(open("o1", 4200))
        );
        Ok(())
    }

    #[tokio::test]
    async fn the_sweep_ships_open_orders_and_runs_only_when_there_are_some() -> Result<(), Error> {
        let kit = TestContext::new();
        assert!(
            !has_open(json!({}), kit.context()).await?,
            "an empty stream"
        );
        kit.set_stream_item(STREAM, "all", "o1", &open("o1", 10))?;
        let mut done = open("o2", 20);
        done.state = "shipped".into();
        kit.set_stream_item(STREAM, "all", "o2", &done)?;
        assert!(has_open(json!({}), kit.context()).await?);

        sweep(json!({}), kit.context()).await?;
        let writes = kit.stream_writes();
        assert_eq!(writes.len(), 1, "only the open order: {writes:?}");
        assert_eq!(writes[0].kind(), &WriteKind::Update);
        let shipped: Option<Status> = kit.stream_item(STREAM, "all", "o1")?;
        assert_eq!(shipped.map(|s| s.state).as_deref(), Some("shipped"));
        assert!(!has_open(json!({}), kit.context()).await?);
        Ok(())
    }
}
