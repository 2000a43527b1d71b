#[iii::function]
async fn add(a: i64, ctx: iii::Context, extra: i64) -> i64 {
    let _ = ctx;
    a + extra
}

fn main() {}
