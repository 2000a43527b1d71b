#[iii::function]
#[iii::trigger(cron, expression = "0 61 * * * *")]
async fn tick() {}

fn main() {}
