#[iii::function]
async fn echo<T: serde::de::DeserializeOwned>(input: T) -> T {
    input
}

fn main() {}
