//! The reading end of a channel.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use iii_protocol::StreamChannelRef;
use iii_protocol::channel::ENGINE_MAX_ITEM;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;

use super::ChannelItem;
use super::endpoint::{End, NO_RUNTIME, Socket, socket_failure};
use crate::error::Error;

/// Text messages kept while the byte views read past them, at most.
const MAX_KEPT_MESSAGES: usize = 1024;

/// The reading end of a channel: the bytes another worker writes, as a
/// `Stream` of chunks, as a tokio [`AsyncRead`], or whole; text messages
/// interleaved with them; or every item in order ([`ChannelReader::next_item`]).
///
/// It attaches to the engine when first read (or with
/// [`ChannelReader::open`]); each end of a channel attaches once. The stream
/// ends when the writer closes its end or goes away; a connection to the
/// engine that breaks first is an error, never a silent end.
///
/// ```no_run
/// use futures_util::StreamExt;
/// # async fn f(mut reader: iii::channel::ChannelReader) -> Result<(), iii::Error> {
/// let mut total = 0;
/// while let Some(chunk) = reader.next().await {
///     total += chunk?.len();
/// }
/// for message in reader.take_messages() {
///     println!("the writer said {message}");
/// }
/// # let _ = total; Ok(()) }
/// ```
pub struct ChannelReader {
    end: End,
    max_item: usize,
    link: Link,
    /// Text messages met while reading bytes, oldest first.
    messages: VecDeque<String>,
    /// The unread rest of a chunk that [`AsyncRead`] took in part.
    partial: Bytes,
}

enum Link {
    /// Not attached yet.
    Idle,
    Opening(JoinHandle<Result<Socket, Error>>),
    Open(Box<Socket>),
    /// Failed; the error is reported once, then the reader is ended.
    Failed(Error),
    Ended,
}

impl std::fmt::Debug for ChannelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelReader")
            .field("channel_id", &self.end.channel.channel_id)
            .finish_non_exhaustive()
    }
}

impl ChannelReader {
    pub(crate) fn new(end: End) -> ChannelReader {
        ChannelReader {
            end,
            max_item: ENGINE_MAX_ITEM,
            link: Link::Idle,
            messages: VecDeque::new(),
            partial: Bytes::new(),
        }
    }

    /// The reference to the channel this reader reads.
    pub fn channel_ref(&self) -> &StreamChannelRef {
        &self.end.channel
    }

    /// The largest item accepted (default 64 MiB, the most the engine
    /// takes from a writer; an `http` request's JSON body comes as one item
    /// and may be larger). Takes effect if set before the reader attaches.
    pub fn max_item_size(mut self, bytes: usize) -> Self {
        self.max_item = bytes;
        self
    }

    /// Attaches to the engine now, so a wrong or expired ref fails here
    /// rather than at the first read. Reading attaches by itself.
    pub async fn open(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_open(cx)).await
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            match &mut self.link {
                Link::Idle => {
                    let attach = self.end.clone().attach(self.max_item);
                    self.link = match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => Link::Opening(runtime.spawn(attach)),
                        Err(_) => Link::Failed(self.end.error(NO_RUNTIME)),
                    };
                }
                Link::Opening(task) => {
                    self.link = match ready!(Pin::new(task).poll(cx)) {
                        Ok(Ok(socket)) => Link::Open(Box::new(socket)),
                        Ok(Err(error)) => Link::Failed(error),
                        Err(_) => Link::Failed(self.end.error("attaching was cancelled")),
                    };
                }
                Link::Failed(_) => {
                    let Link::Failed(error) = std::mem::replace(&mut self.link, Link::Ended) else {
                        continue;
                    };
                    return Poll::Ready(Err(error));
                }
                Link::Open(_) | Link::Ended => return Poll::Ready(Ok(())),
            }
        }
    }

    /// The next item off the socket, text or binary; `None` at the end.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<ChannelItem, Error>>> {
        loop {
            if let Err(error) = ready!(self.poll_open(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            let Link::Open(socket) = &mut self.link else {
                return Poll::Ready(None);
            };
            let failure = match ready!(socket.poll_next_unpin(cx)) {
                Some(Ok(Frame::Binary(bytes))) => {
                    return Poll::Ready(Some(Ok(ChannelItem::Bytes(bytes))));
                }
                Some(Ok(Frame::Text(text))) => {
                    return Poll::Ready(Some(Ok(ChannelItem::Text(text.as_str().to_owned()))));
                }
                Some(Ok(Frame::Close(_))) => {
                    self.link = Link::Ended;
                    return Poll::Ready(None);
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => socket_failure(&error, self.max_item),
                None => "the engine dropped the connection without ending the stream; the data may be incomplete".to_string(),
            };
            self.link = Link::Failed(self.end.error(failure));
        }
    }

    /// The next item in the order the writer sent it: a chunk of bytes or a
    /// text message. `None` once the writer has closed its end.
    ///
    /// Messages the byte views read past come first, then the rest of a
    /// chunk [`AsyncRead`] took in part.
    pub async fn next_item(&mut self) -> Result<Option<ChannelItem>, Error> {
        if let Some(text) = self.messages.pop_front() {
            return Ok(Some(ChannelItem::Text(text)));
        }
        if !self.partial.is_empty() {
            return Ok(Some(ChannelItem::Bytes(std::mem::take(&mut self.partial))));
        }
        std::future::poll_fn(|cx| self.poll_item(cx))
            .await
            .transpose()
    }

    /// The next item decoded from JSON (a text message, or a chunk holding
    /// one JSON document); `None` at the end.
    pub async fn next_json<T: DeserializeOwned>(&mut self) -> Result<Option<T>, Error> {
        match self.next_item().await? {
            None => Ok(None),
            Some(item) => item.json().map(Some).map_err(|e| {
                self.end
                    .error(format!("an item is not the JSON expected: {e}"))
            }),
        }
    }

    /// The next chunk of bytes; `None` at the end. Text messages on the way
    /// are kept for [`ChannelReader::take_messages`].
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.next().await.transpose()
    }

    /// Every byte up to the end of the stream. Text messages on the way are
    /// kept for [`ChannelReader::take_messages`].
    pub async fn read_all(&mut self) -> Result<Bytes, Error> {
        let Some(first) = self.next_chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.next_chunk().await? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.next_chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// The text messages the byte views read past, oldest first.
    pub fn take_messages(&mut self) -> Vec<String> {
        self.messages.drain(..).collect()
    }
}

impl Stream for ChannelReader {
    type Item = Result<Bytes, Error>;

    /// The next non-empty chunk of bytes. A text message on the way is
    /// kept for [`ChannelReader::take_messages`]; more than 1,024 kept at
    /// once is an error, since nothing reads them.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.partial.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut this.partial))));
        }
        loop {
            match ready!(this.poll_item(cx)) {
                Some(Ok(ChannelItem::Bytes(bytes))) if bytes.is_empty() => continue,
                Some(Ok(ChannelItem::Bytes(bytes))) => return Poll::Ready(Some(Ok(bytes))),
                Some(Ok(ChannelItem::Text(text))) => {
                    if this.messages.len() >= MAX_KEPT_MESSAGES {
                        let error = this.end.error(format!(
                            "{MAX_KEPT_MESSAGES} text messages arrived between chunks and none was taken; \
                             take them with `take_messages`, or read every item with `next_item`"
                        ));
                        this.link = Link::Ended;
                        return Poll::Ready(Some(Err(error)));
                    }
                    this.messages.push_back(text);
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.partial.is_empty() {
            match ready!(Pin::new(&mut *this).poll_next(cx)) {
                Some(Ok(chunk)) => this.partial = chunk,
                Some(Err(error)) => return Poll::Ready(Err(io::Error::other(error))),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(this.partial.len());
        buf.put_slice(&this.partial.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        if let Link::Opening(task) = &self.link {
            task.abort();
        }
    }
}
