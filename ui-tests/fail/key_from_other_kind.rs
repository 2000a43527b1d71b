#[iii::function]
#[iii::trigger(http, path = "/greet", topic = "greetings")]
async fn greet(name: String) -> String {
    name
}

fn main() {}
