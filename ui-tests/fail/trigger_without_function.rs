#[iii::trigger(http, path = "/greet")]
async fn greet(name: String) -> String {
    name
}

fn main() {}
