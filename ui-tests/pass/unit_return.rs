/// Records an event and returns nothing.
#[iii::function(id = "audit::record")]
async fn record(event: String) {
    let _ = event;
}

#[iii::function]
async fn ping() {}

fn main() {
    let f = iii::linked::functions().find(|f| f.id() == "audit::record").unwrap().function();
    assert_eq!(f.get_description(), Some("Records an event and returns nothing."));
    assert!(f.get_response_format().is_none(), "`()` has no format");
}
