#[iii::function(id = "math::double", id = "math::twice")]
async fn double(x: i64) -> i64 {
    x * 2
}

fn main() {}
