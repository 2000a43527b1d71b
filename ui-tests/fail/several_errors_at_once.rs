#[iii::function(ids = "x")]
#[iii::trigger(cron, expression = "* * *")]
#[iii::trigger(http, path = "/a b")]
async fn many(x: u8) -> u8 {
    x
}

fn main() {}
