#[iii::function]
async fn no_input() -> u8 {
    1
}

#[iii::function]
async fn with_context(x: u8, ctx: iii::Context) -> Result<u8, iii::Error> {
    let _ = ctx.function_id();
    Ok(x)
}

#[iii::function]
pub async fn public(x: u8) -> u8 {
    x
}

async fn typed_calls(worker: iii::Worker) -> Result<(), iii::Error> {
    let _: u8 = worker.call_fn::<no_input>(&()).await?;
    let _: u8 = worker.call_fn::<with_context>(&1).await?;
    Ok(())
}

fn main() {
    let _ = typed_calls;
}
