#[iii::function(id = "math::double", name = "double")]
async fn double(x: i64) -> i64 {
    x * 2
}

fn main() {}
