struct NotAnError;

#[iii::function]
async fn fail() -> Result<u8, NotAnError> {
    Err(NotAnError)
}

fn main() {}
