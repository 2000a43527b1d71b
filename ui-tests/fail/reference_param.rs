#[iii::function]
async fn length(name: &str) -> usize {
    name.len()
}

fn main() {}
