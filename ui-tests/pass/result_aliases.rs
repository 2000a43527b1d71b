type MyResult<T> = std::result::Result<T, std::io::Error>;

#[iii::function]
async fn with_iii_alias(x: u8) -> iii::Result<u8> {
    Ok(x)
}

#[iii::function]
async fn with_io_result(x: u8) -> std::io::Result<u8> {
    Ok(x)
}

#[iii::function]
async fn with_local_alias(x: u8) -> MyResult<u8> {
    Ok(x)
}

fn main() {}
