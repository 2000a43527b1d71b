#[iii::function]
#[iii::trigger(http, path = "greet/:name")]
async fn greet(name: String) -> String {
    name
}

fn main() {}
