use iii::channel::{ChannelReader, ChannelWriter};
use iii::http::{ApiRequest, StreamedResponse};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Pipe {
    input: ChannelReader,
    output: ChannelWriter,
}

/// Channel ends as input fields.
#[iii::function]
async fn copy(mut pipe: Pipe) -> Result<u64, iii::Error> {
    let data = pipe.input.read_all().await?;
    pipe.output.send_bytes(data).await?;
    pipe.output.close().await?;
    Ok(pipe.output.bytes_written())
}

/// A streamed response, from an http binding.
#[iii::function]
#[iii::trigger(http, path = "/download", method = "GET")]
async fn download(req: ApiRequest, ctx: iii::Context) -> Result<StreamedResponse, iii::Error> {
    let _ = (req.body_bytes().await?, ctx.create_channel().await?);
    Ok(StreamedResponse::new(200))
}

fn main() {}
