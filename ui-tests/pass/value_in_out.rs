use serde_json::Value;

#[iii::function]
async fn echo(input: Value) -> Value {
    input
}

fn main() {
    let f = (iii::linked::FUNCTIONS.iter().find(|f| f.id == "echo").unwrap().function)();
    assert!(f.to_message().request_format.is_none());
    assert!(f.to_message().response_format.is_none());
}
