#[iii::function]
#[iii::trigger(http, path = "/greet", method = "FETCH")]
async fn greet(name: String) -> String {
    name
}

fn main() {}
