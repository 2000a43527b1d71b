#[iii::function(id = "")]
async fn anonymous(x: u8) -> u8 {
    x
}

fn main() {}
