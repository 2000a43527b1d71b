#[iii::function(metadata = "{team: billing}")]
async fn charge(amount: u64) -> u64 {
    amount
}

fn main() {}
