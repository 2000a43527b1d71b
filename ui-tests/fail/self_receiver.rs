struct Service;

impl Service {
    #[iii::function]
    async fn greet(&self, name: String) -> String {
        name
    }
}

fn main() {}
