#[iii::function]
#[iii::trigger(custom, config = {"every": 5})]
async fn tick() {}

fn main() {}
