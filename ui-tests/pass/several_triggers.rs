use serde_json::Value;

#[iii::function(id = "everything::handler", description = "Bound to every kind")]
#[iii::trigger(http, path = "/everything/:id", method = "PUT", metadata = {"route": true})]
#[iii::trigger(cron, expression = "0 */5 * * * *")]
#[iii::trigger(subscribe, topic = "everything.happened")]
#[iii::trigger(queue, topic = "jobs", max_retries = 5, backoff_type = "exponential")]
#[iii::trigger(state, scope = "users", key = "ada")]
#[iii::trigger(stream, stream_name = "chat", group_id = "room1")]
#[iii::trigger(stream_join)]
#[iii::trigger(stream_leave, metadata = {"side": "leave"})]
#[iii::trigger(log, level = "warn")]
#[iii::trigger(functions_available)]
#[iii::trigger(workers_available)]
#[iii::trigger(custom = "ticker", config = {"every": 5}, metadata = "{\"m\": 1}")]
async fn handler(input: Value, ctx: iii::Context) -> Value {
    let _ = ctx;
    input
}

fn main() {
    let linked = iii::linked::functions().find(|f| f.id() == "everything::handler").unwrap();
    let types: Vec<String> = linked.triggers().iter().map(|t| t.trigger_type().to_string()).collect();
    assert_eq!(
        types,
        [
            "http",
            "cron",
            "subscribe",
            "durable:subscriber",
            "state",
            "stream",
            "stream:join",
            "stream:leave",
            "log",
            "engine::functions-available",
            "engine::workers-available",
            "ticker"
        ]
    );
    for t in linked.triggers() {
        t.validate().unwrap();
    }
}
