#[iii::function]
#[iii::trigger(http, path = 5)]
async fn five(x: u8) -> u8 {
    x
}

fn main() {}
