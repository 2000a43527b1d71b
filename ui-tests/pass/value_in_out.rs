use serde_json::Value;

#[iii::function]
async fn echo(input: Value) -> Value {
    input
}

fn main() {
    let f = iii::linked::functions().find(|f| f.id() == "echo").unwrap().function();
    assert!(f.get_request_format().is_none());
    assert!(f.get_response_format().is_none());
}
