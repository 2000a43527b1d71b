#[iii::function]
#[iii::trigger(log, level = "loud")]
async fn on_log(record: serde_json::Value) {
    let _ = record;
}

fn main() {}
