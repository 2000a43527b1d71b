#[iii::trigger(http, path = "/greet")]
#[iii::function]
async fn greet(name: String) -> String {
    name
}

fn main() {}
