//! The writing end of a channel.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, SinkExt, StreamExt};
use iii_protocol::StreamChannelRef;
use iii_protocol::channel::{CHUNK_BYTES, ENGINE_MAX_ITEM};

use super::endpoint::NO_RUNTIME;
use serde::Serialize;
use tokio::io::AsyncWrite;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::endpoint::{End, Socket, socket_failure};
use crate::error::Error;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Why the engine ends a writer's socket before the writer closed it.
const REFUSED: &str = "the engine ended this end before it was closed: the end was attached \
    already (each end attaches once), its reader went away, or the channel was removed";

/// What a failed write on a writer's socket means: the engine, which sends
/// nothing there but its Close, dropped the connection, most often for one of
/// the reasons of [`REFUSED`] (its Close can be lost when it drops the socket
/// right after).
fn write_failure(error: &WsError) -> String {
    match error {
        WsError::Io(_) | WsError::Protocol(_) => format!(
            "the connection to the engine broke ({error}), so what was written may not all \
             have arrived; the engine drops a writer's socket when the end was attached already \
             (each end attaches once), its reader went away, or the channel was removed"
        ),
        other => socket_failure(other, 0),
    }
}

/// Why a close is not known to have delivered everything.
const UNCONFIRMED: &str = "the engine dropped the socket before confirming the end \
    (the end was attached already, its reader went away, or the channel was removed); the \
    reader may not have everything";

/// How long the task a dropped writer leaves behind may wait for a slow
/// reader before it gives up (the engine removes a channel whose reader
/// never attached after 5 minutes).
const DROP_CLOSE_LIMIT: Duration = Duration::from_secs(600);

/// The writing end of a channel: bytes (as a `Sink` of chunks, a tokio
/// [`AsyncWrite`], or [`ChannelWriter::send_bytes`]) and text messages
/// ([`ChannelWriter::send_text`], [`ChannelWriter::send_json`]) for another
/// worker to read.
///
/// It attaches to the engine when it first sends (or with
/// [`ChannelWriter::open`]); each end of a channel attaches once. Bytes go
/// out in items of at most 64 KiB, as every iii SDK writes them; bytes
/// written through `AsyncWrite` are gathered into such items until a flush.
/// The engine buffers a set number of items per channel (64 by default)
/// and stops reading a writer whose reader lags, so writes wait for the
/// reader.
///
/// [`ChannelWriter::close`] ends the stream and returns once the engine has
/// taken every item. Dropping a writer that has sent anything closes it
/// too, from a background task (errors are only logged); dropping one that
/// never attached does nothing, so the end stays free for someone else.
///
/// ```no_run
/// use tokio::io::AsyncWriteExt;
/// # async fn f(mut writer: iii::channel::ChannelWriter) -> Result<(), iii::Error> {
/// writer.send_json(&serde_json::json!({"type": "progress", "done": 0})).await?;
/// writer.write_all(b"the report, in bytes").await?;
/// writer.close().await?; // flushes, then ends the stream
/// # Ok(()) }
/// ```
pub struct ChannelWriter {
    end: End,
    link: Link,
    /// Bytes written through `AsyncWrite`, not cut into items yet.
    buffer: BytesMut,
    /// An item from `send_bytes` or the `Sink`, being cut into chunks.
    /// Never non-empty while `buffer` is.
    outgoing: Bytes,
    /// Bytes handed to the socket.
    written: u64,
    /// Closed by the task its drop started: it never detaches again.
    detached: bool,
}

enum Link {
    /// Not attached yet.
    Idle,
    Opening(JoinHandle<Result<Socket, Error>>),
    Open {
        socket: Box<Socket>,
        /// The Close frame has been sent.
        closing: bool,
    },
    /// Failed; every later use fails with this reason.
    Failed(String),
    Closed,
}

impl std::fmt::Debug for ChannelWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWriter")
            .field("channel_id", &self.end.channel.channel_id)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl ChannelWriter {
    pub(crate) fn new(end: End) -> ChannelWriter {
        ChannelWriter {
            end,
            link: Link::Idle,
            buffer: BytesMut::new(),
            outgoing: Bytes::new(),
            written: 0,
            detached: false,
        }
    }

    /// The reference to the channel this writer writes.
    pub fn channel_ref(&self) -> &StreamChannelRef {
        &self.end.channel
    }

    /// Bytes handed to the engine so far (text messages not counted).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Attaches to the engine now, so a wrong or expired ref fails here
    /// rather than at the first write. Sending attaches by itself.
    pub async fn open(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_open(cx)).await
    }

    /// Sends `data` as one or more binary items of at most 64 KiB, and
    /// waits until the socket has taken them.
    pub async fn send_bytes(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        SinkExt::send(self, data.into()).await
    }

    /// Sends one text message (the official SDKs hand these to their
    /// readers' `on_message` callbacks). Bytes written before it go first.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), Error> {
        let text = text.into();
        self.usable()?;
        if text.len() > ENGINE_MAX_ITEM {
            return Err(self.end.error(format!(
                "a {}-byte text message is over the engine's {ENGINE_MAX_ITEM}-byte item limit \
                 (it would end the stream early); send large data as bytes",
                text.len()
            )));
        }
        std::future::poll_fn(|cx| {
            ready!(self.poll_drain(cx, true))?;
            ready!(self.poll_frame_ready(cx))?;
            Poll::Ready(Ok::<(), Error>(()))
        })
        .await?;
        self.start(Frame::text(text))?;
        std::future::poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    /// Sends `value` as a JSON text message.
    pub async fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string(value).map_err(|source| Error::Encode {
            what: format!("a message for channel `{}`", self.end.channel.channel_id),
            source,
        })?;
        self.send_text(text).await
    }

    /// Sends what is buffered, ends the stream, and waits until the engine
    /// has taken every item (when the channel's buffer is full, that waits
    /// for the reader). Closing a writer that never attached attaches it
    /// first, so its reader sees an empty stream end. Closing again does
    /// nothing.
    pub async fn close(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_close_end(cx)).await
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            match &mut self.link {
                Link::Idle => {
                    // A writer reads only the engine's Close.
                    let attach = self.end.clone().attach(1024);
                    self.link = match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => Link::Opening(runtime.spawn(attach)),
                        Err(_) => Link::Failed(NO_RUNTIME.into()),
                    };
                }
                Link::Opening(task) => {
                    self.link = match ready!(Pin::new(task).poll(cx)) {
                        Ok(Ok(socket)) => Link::Open {
                            socket: Box::new(socket),
                            closing: false,
                        },
                        Ok(Err(Error::Channel { reason, .. })) => Link::Failed(reason),
                        Ok(Err(other)) => Link::Failed(other.to_string()),
                        Err(_) => Link::Failed("attaching was cancelled".into()),
                    };
                }
                Link::Open { .. } => return Poll::Ready(Ok(())),
                Link::Failed(reason) => return Poll::Ready(Err(self.end.error(reason.clone()))),
                Link::Closed => {
                    return Poll::Ready(Err(self.end.error("the writer is closed already")));
                }
            }
        }
    }

    /// Whether more may be sent: not failed, not closed or closing.
    fn usable(&self) -> Result<(), Error> {
        match &self.link {
            Link::Failed(reason) => Err(self.end.error(reason.clone())),
            Link::Closed | Link::Open { closing: true, .. } => {
                Err(self.end.error("the writer is closed already"))
            }
            Link::Idle | Link::Opening(_) | Link::Open { .. } => Ok(()),
        }
    }

    fn fail(&mut self, reason: String) -> Error {
        let error = self.end.error(reason.clone());
        self.link = Link::Failed(reason);
        error
    }

    /// Attached, the engine still reading it, and the socket ready for one
    /// more frame.
    fn poll_frame_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_open(cx))?;
        let Link::Open { socket, .. } = &mut self.link else {
            return Poll::Ready(Err(self.end.error("the writer is not attached")));
        };
        // The engine sends nothing on a writer's socket but its Close: one
        // now means this end is no longer served.
        loop {
            match socket.poll_next_unpin(cx) {
                Poll::Pending => break,
                Poll::Ready(Some(Ok(Frame::Ping(_) | Frame::Pong(_)))) => continue,
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(self.fail(write_failure(&e))));
                }
                Poll::Ready(_) => return Poll::Ready(Err(self.fail(REFUSED.into()))),
            }
        }
        match ready!(socket.poll_ready_unpin(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.fail(write_failure(&e)))),
        }
    }

    /// Hands one frame to the socket (after [`Self::poll_frame_ready`]).
    fn start(&mut self, frame: Frame) -> Result<(), Error> {
        let len = match &frame {
            Frame::Binary(bytes) => bytes.len() as u64,
            _ => 0,
        };
        let Link::Open { socket, .. } = &mut self.link else {
            return Err(self.end.error("the writer is not attached"));
        };
        match socket.start_send_unpin(frame) {
            Ok(()) => {
                self.written += len;
                Ok(())
            }
            Err(e) => Err(self.fail(write_failure(&e))),
        }
    }

    /// Cuts buffered bytes into items and hands them to the socket: whole
    /// 64 KiB items only, or everything when `all`.
    fn poll_drain(&mut self, cx: &mut Context<'_>, all: bool) -> Poll<Result<(), Error>> {
        while self.buffer.len() >= CHUNK_BYTES || (all && !self.buffer.is_empty()) {
            ready!(self.poll_frame_ready(cx))?;
            let n = self.buffer.len().min(CHUNK_BYTES);
            let chunk = self.buffer.split_to(n).freeze();
            self.start(Frame::Binary(chunk))?;
        }
        while !self.outgoing.is_empty() {
            ready!(self.poll_frame_ready(cx))?;
            let n = self.outgoing.len().min(CHUNK_BYTES);
            let chunk = self.outgoing.split_to(n);
            self.start(Frame::Binary(chunk))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Everything buffered handed to the socket and written out.
    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_drain(cx, true))?;
        match &mut self.link {
            Link::Open { socket, .. } => match ready!(socket.poll_flush_unpin(cx)) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) => Poll::Ready(Err(self.fail(write_failure(&e)))),
            },
            // Nothing was ever sent: nothing to flush.
            Link::Idle | Link::Closed => Poll::Ready(Ok(())),
            Link::Opening(_) | Link::Failed(_) => self.poll_open(cx),
        }
    }

    /// Flushes, sends Close, then waits for the engine to end the socket.
    fn poll_close_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if matches!(self.link, Link::Closed) {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_open(cx))?;
        ready!(self.poll_flush_all(cx))?;
        let Link::Open { socket, closing } = &mut self.link else {
            return Poll::Ready(Ok(()));
        };
        if !*closing {
            // With a status code, so that the engine's echo (which carries
            // it) tells apart from the empty Close it refuses an end with.
            let sent = ready!(socket.poll_ready_unpin(cx)).and_then(|()| {
                socket.start_send_unpin(Frame::Close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                })))
            });
            if let Err(e) = sent {
                return Poll::Ready(Err(self.fail(write_failure(&e))));
            }
            *closing = true;
        }
        if let Err(e) = ready!(socket.poll_flush_unpin(cx)) {
            return Poll::Ready(Err(self.fail(write_failure(&e))));
        }
        // The engine reads the Close after every item before it, echoes it
        // and drops the socket.
        loop {
            match ready!(socket.poll_next_unpin(cx)) {
                Some(Ok(Frame::Close(Some(_)))) => break,
                Some(Ok(Frame::Close(None))) => {
                    return Poll::Ready(Err(self.fail(REFUSED.into())));
                }
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => {
                    return Poll::Ready(Err(self.fail(UNCONFIRMED.into())));
                }
            }
        }
        self.link = Link::Closed;
        Poll::Ready(Ok(()))
    }
}

impl Sink<Bytes> for ChannelWriter {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.usable()?;
        this.poll_drain(cx, true)
    }

    /// Queues `item`, sent as items of at most 64 KiB; an empty one sends
    /// nothing.
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        let this = self.get_mut();
        if !this.outgoing.is_empty() || !this.buffer.is_empty() {
            return Err(this
                .end
                .error("`start_send` without `poll_ready` first (a misused Sink)"));
        }
        this.outgoing = item;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_end(cx)
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.usable().map_err(io::Error::other)?;
        ready!(this.poll_drain(cx, false)).map_err(io::Error::other)?;
        let n = buf.len().min(CHUNK_BYTES - this.buffer.len());
        this.buffer.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx).map_err(io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_end(cx).map_err(io::Error::other)
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        let unsent = self.buffer.len() + self.outgoing.len();
        match &self.link {
            Link::Idle if unsent == 0 => return,
            Link::Failed(_) | Link::Closed => return,
            Link::Idle | Link::Opening(_) | Link::Open { .. } => {}
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                channel_id = self.end.channel.channel_id,
                unsent,
                "a channel writer was dropped outside a tokio runtime; its reader sees the stream end where it stopped"
            );
            return;
        };
        let mut rest = ChannelWriter {
            end: self.end.clone(),
            link: std::mem::replace(&mut self.link, Link::Closed),
            buffer: std::mem::take(&mut self.buffer),
            outgoing: std::mem::take(&mut self.outgoing),
            written: self.written,
            detached: true,
        };
        runtime.spawn(async move {
            match tokio::time::timeout(DROP_CLOSE_LIMIT, rest.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!("closing a dropped channel writer failed: {error}")
                }
                Err(_) => tracing::warn!(
                    channel_id = rest.end.channel.channel_id,
                    "a dropped channel writer could not close within {DROP_CLOSE_LIMIT:?}"
                ),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Endpoint;
    use iii_protocol::ChannelDirection;
    use tokio::net::TcpListener;

    /// What the scripted engine does with the writer's socket.
    #[derive(Clone, Copy)]
    enum Script {
        /// Reads to the writer's Close and echoes it, as the engine does.
        Echo,
        /// Reads to the writer's Close and drops the socket unanswered.
        DropAtClose,
        /// Closes at once with an empty Close, as the engine refuses an
        /// end that was attached already.
        Refuse,
    }

    /// A writer on a one-connection engine following `script`, and the
    /// number of binary bytes that engine read.
    async fn writer(script: Script) -> (ChannelWriter, JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let engine = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut socket = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            let mut read = 0;
            if let Script::Refuse = script {
                let _ = socket.send(Frame::Close(None)).await;
                return read;
            }
            while let Some(Ok(frame)) = socket.next().await {
                match frame {
                    Frame::Binary(bytes) => read += bytes.len(),
                    Frame::Close(_) => break,
                    _ => {}
                }
            }
            if let Script::Echo = script {
                // Flushes the echo tungstenite queued.
                while socket.next().await.is_some() {}
            }
            read
        });
        let end = End {
            channel: StreamChannelRef {
                channel_id: "c-1".into(),
                access_key: "k".into(),
                direction: ChannelDirection::Write,
            },
            direction: ChannelDirection::Write,
            endpoint: Endpoint::new(&format!("ws://{addr}")),
        };
        (ChannelWriter::new(end), engine)
    }

    #[tokio::test]
    async fn close_succeeds_once_the_engine_echoes_it() {
        let (mut writer, engine) = writer(Script::Echo).await;
        writer.send_bytes(vec![1u8; 100_000]).await.expect("send");
        writer.close().await.expect("a confirmed close");
        assert_eq!(engine.await.expect("engine"), 100_000);
        writer.close().await.expect("closing again does nothing");
        let error = writer.send_bytes(&b"late"[..]).await.unwrap_err();
        assert!(error.to_string().contains("closed already"), "{error}");
    }

    #[tokio::test]
    async fn an_unanswered_close_is_an_error() {
        let (mut writer, engine) = writer(Script::DropAtClose).await;
        writer.send_bytes(&b"data"[..]).await.expect("send");
        let error = writer.close().await.unwrap_err();
        assert!(error.to_string().contains("before confirming"), "{error}");
        engine.await.expect("engine");
    }

    #[tokio::test]
    async fn an_end_the_engine_refuses_fails_the_writer() {
        let (mut writer, engine) = writer(Script::Refuse).await;
        writer.open().await.expect("attach");
        engine.await.expect("the engine refused");
        let sent = async {
            writer.send_bytes(&b"data"[..]).await?;
            writer.close().await
        };
        let error = sent.await.unwrap_err();
        assert!(error.to_string().contains("attached already"), "{error}");
        let again = writer.send_text("more").await.unwrap_err();
        assert!(again.to_string().contains("attached already"), "{again}");
    }
}
