#[iii::function]
fn greet(name: String) -> String {
    name
}

fn main() {}
