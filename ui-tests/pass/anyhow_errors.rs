#[iii::function]
async fn parse(text: String) -> anyhow::Result<u32> {
    Ok(text.parse()?)
}

fn main() {}
