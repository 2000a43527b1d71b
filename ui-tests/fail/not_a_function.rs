#[iii::function]
struct Greeter;

fn main() {}
