/// Records an event and returns nothing.
#[iii::function(id = "audit::record")]
async fn record(event: String) {
    let _ = event;
}

#[iii::function]
async fn ping() {}

fn main() {
    let f = (iii::linked::FUNCTIONS.iter().find(|f| f.id == "audit::record").unwrap().function)();
    assert_eq!(f.to_message().description.as_deref(), Some("Records an event and returns nothing."));
    assert!(f.to_message().response_format.is_none(), "`()` has no format");
}
