#[iii::function]
#[iii::trigger(cron, expression = "*/5 * * * *")]
async fn tick() {}

fn main() {}
