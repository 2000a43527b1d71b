#[iii::function(id = "a")]
#[iii::function(id = "b")]
async fn twice(x: u8) -> u8 {
    x
}

fn main() {}
