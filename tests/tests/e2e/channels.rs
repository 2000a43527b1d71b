//! Data channels end to end: created by a worker, ends passed in payloads,
//! bytes and messages in order, back-pressure, ends and their errors.

use std::time::Duration;

use futures_util::StreamExt;
use iii::channel::{ChannelItem, ChannelReader, ChannelWriter, StreamChannelRef};
use iii::{Error, Function};
use iii_tests::{engine, fid, pattern, pattern_mismatch, serve};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Deserialize, schemars::JsonSchema)]
struct Upload {
    name: String,
    data: ChannelReader,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
struct Stored {
    name: String,
    len: u64,
    /// Where the bytes departed from the pattern.
    mismatch: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Produce {
    len: usize,
    output: ChannelWriter,
}

/// Serves a function that writes `len` pattern bytes to the writer it is
/// given and answers how many went out; returns its id.
async fn serve_producer(worker: &iii::Worker) -> String {
    let id = fid("files::produce");
    serve(
        worker,
        Function::new(&id, |mut produce: Produce| async move {
            produce.output.send_bytes(pattern(0, produce.len)).await?;
            produce.output.close().await?;
            Ok::<_, Error>(produce.output.bytes_written())
        }),
    )
    .await;
    id
}

#[tokio::test]
async fn items_arrive_in_order_with_their_kind() {
    let engine = engine().await;
    let worker = engine.connect("channels").await;
    let mut channel = worker.create_channel().await.expect("create");
    assert_eq!(channel.reader_ref.channel_id, channel.writer_ref.channel_id);
    let mut writer = channel.writer;
    let write = tokio::spawn(async move {
        writer.send_text("start").await?;
        writer.send_bytes(pattern(0, 10)).await?;
        writer.send_json(&json!({"progress": 1})).await?;
        writer.send_bytes(pattern(10, 5)).await?;
        writer.close().await
    });
    let mut items = Vec::new();
    while let Some(item) = channel.reader.next_item().await.expect("read") {
        items.push(item);
    }
    write.await.expect("join").expect("write");
    assert_eq!(
        items,
        [
            ChannelItem::Text("start".into()),
            ChannelItem::Bytes(pattern(0, 10).into()),
            ChannelItem::Text(r#"{"progress":1}"#.into()),
            ChannelItem::Bytes(pattern(10, 5).into()),
        ]
    );
}

#[tokio::test]
async fn a_reader_passed_in_a_payload_reads_what_the_caller_writes() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("files::store");
    serve(
        &callee,
        Function::new(&id, |mut upload: Upload| async move {
            let mut data = Vec::new();
            upload
                .data
                .read_to_end(&mut data)
                .await
                .map_err(Error::other)?;
            Ok::<_, Error>(Stored {
                name: upload.name,
                len: data.len() as u64,
                mismatch: pattern_mismatch(&data),
            })
        }),
    )
    .await;
    let channel = caller.create_channel().await.expect("create");
    let call = caller
        .invoke(&id)
        .payload(&json!({"name": "big.bin", "data": channel.reader_ref}))
        .call::<Stored>();
    let mut writer = channel.writer;
    let len = 5 * 1024 * 1024 + 7;
    let write = async {
        // Written in odd pieces through AsyncWrite; the writer cuts items.
        let data = pattern(0, len);
        for piece in data.chunks(10_007) {
            writer.write_all(piece).await.map_err(Error::other)?;
        }
        writer.close().await
    };
    let (stored, written) = tokio::join!(call, write);
    written.expect("write");
    assert_eq!(
        stored.expect("call"),
        Stored {
            name: "big.bin".into(),
            len: len as u64,
            mismatch: None
        }
    );
}

#[tokio::test]
async fn a_writer_passed_in_a_payload_sends_chunks_of_64_kib_at_most() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = serve_producer(&callee).await;
    let mut channel = caller.create_channel().await.expect("create");
    let len = 1_000_003;
    let call = caller
        .invoke(&id)
        .payload(&json!({"len": len, "output": channel.writer_ref}))
        .call::<u64>();
    let read = async {
        let mut sizes = Vec::new();
        let mut data = Vec::new();
        while let Some(chunk) = channel.reader.next().await {
            let chunk = chunk?;
            sizes.push(chunk.len());
            data.extend_from_slice(&chunk);
        }
        Ok::<_, Error>((sizes, data))
    };
    let (written, read) = tokio::join!(call, read);
    let (sizes, data) = read.expect("read");
    assert_eq!(written.expect("call"), len as u64);
    assert_eq!(data.len(), len);
    assert_eq!(pattern_mismatch(&data), None);
    assert!(
        sizes.iter().all(|s| *s <= 64 * 1024),
        "every item is at most 64 KiB (the official Python reader refuses over 1 MiB): {sizes:?}"
    );
    assert_eq!(sizes.len(), len.div_ceil(64 * 1024));
}

#[tokio::test]
async fn a_writer_waits_for_a_reader_that_does_not_read() {
    let engine = engine().await;
    let worker = engine.connect("channels").await;
    let channel = worker.create_channel_with_buffer(1).await.expect("create");
    let mut writer = channel.writer;
    let total = 64 * 1024 * 1024;
    let write = tokio::spawn(async move {
        for n in 0..total / (64 * 1024) {
            writer.send_bytes(pattern(n as u64 * 65536, 65536)).await?;
        }
        writer.close().await
    });
    // With nobody reading, the engine holds one item and the sockets a few
    // MiB: 64 MiB cannot all be written.
    let stalled = tokio::time::timeout(Duration::from_secs(2), async {
        while !write.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        stalled.is_err(),
        "the writer finished 64 MiB without a reader"
    );
    let mut reader = channel.reader;
    let data = reader.read_all().await.expect("read");
    write.await.expect("join").expect("write");
    assert_eq!(data.len(), total);
    assert_eq!(pattern_mismatch(&data), None);
}

#[tokio::test]
async fn a_dropped_writer_sends_what_it_holds_and_ends_the_stream() {
    let engine = engine().await;
    let worker = engine.connect("channels").await;
    let mut channel = worker.create_channel().await.expect("create");
    let mut writer = channel.writer;
    // Under 64 KiB and never flushed: still in the writer when dropped.
    writer.write_all(&pattern(0, 1000)).await.expect("write");
    drop(writer);
    let data = tokio::time::timeout(Duration::from_secs(10), channel.reader.read_all())
        .await
        .expect("the stream ends")
        .expect("read");
    assert_eq!(data.as_ref(), pattern(0, 1000).as_slice());
}

#[tokio::test]
async fn an_end_dropped_unused_stays_free_for_its_ref() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = serve_producer(&callee).await;
    let iii::Channel {
        writer,
        mut reader,
        writer_ref,
        ..
    } = caller.create_channel().await.expect("create");
    drop(writer);
    let call = caller
        .invoke(&id)
        .payload(&json!({"len": 300, "output": writer_ref}))
        .call::<u64>();
    let (called, data) = tokio::join!(call, reader.read_all());
    called.expect("the callee attached the end the caller dropped unused");
    assert_eq!(data.expect("read").as_ref(), pattern(0, 300).as_slice());
}

#[tokio::test]
async fn refs_open_explicitly_and_misuse_names_the_channel() {
    let engine = engine().await;
    let worker = engine.connect("channels").await;
    let channel = worker.create_channel().await.expect("create");
    let wrong_way = worker.open_reader(&channel.writer_ref).unwrap_err();
    assert!(
        wrong_way.to_string().contains("open_writer")
            && wrong_way
                .to_string()
                .contains(&channel.writer_ref.channel_id),
        "{wrong_way}"
    );
    let forged = StreamChannelRef {
        access_key: "not-the-key".into(),
        ..channel.reader_ref.clone()
    };
    let mut reader = worker.open_reader(&forged).expect("a reader");
    let error = reader.open().await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&forged.channel_id) && text.contains("404") && text.contains("read end"),
        "{text}"
    );
    let error = worker.create_channel_with_buffer(0).await.unwrap_err();
    assert!(error.to_string().contains("1..=1024"), "{error}");

    // The same ref opened twice: the engine serves one attach and ends the
    // other. Which one is not fixed: the real engine takes the end in the
    // task it starts after the upgrade, so a later attach can win.
    let mut first = worker.open_writer(&channel.writer_ref).expect("writer");
    let first_sent = first.send_bytes(&b"first"[..]).await;
    let mut second = worker.open_writer(&channel.writer_ref).expect("writer");
    let second_done = async {
        second.send_bytes(&b"second"[..]).await?;
        second.close().await
    }
    .await;
    let first_done = match first_sent {
        Ok(()) => first.close().await,
        Err(error) => Err(error),
    };
    let (winner, refusal) = match (first_done, second_done) {
        (Ok(()), Err(refusal)) => (&b"first"[..], refusal),
        (Err(refusal), Ok(())) => (&b"second"[..], refusal),
        (first, second) => panic!("one attach must win and one fail: {first:?}, {second:?}"),
    };
    assert!(
        refusal.to_string().contains("attached already"),
        "{refusal}"
    );
    let mut reader = worker.open_reader(&channel.reader_ref).expect("reader");
    assert_eq!(reader.read_all().await.expect("read").as_ref(), winner);
}

#[tokio::test]
async fn channel_ends_decode_only_where_the_worker_is_known() {
    let reader = serde_json::from_value::<ChannelReader>(
        json!({"channel_id": "c", "access_key": "k", "direction": "read"}),
    )
    .unwrap_err();
    assert!(reader.to_string().contains("open_reader"), "{reader}");
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("files::store");
    serve(
        &callee,
        Function::new(
            &id,
            |upload: Upload| async move { Ok::<_, Error>(upload.name) },
        ),
    )
    .await;
    let channel = caller.create_channel().await.expect("create");
    let error = caller
        .call::<String, _>(&id, &json!({"name": "x", "data": channel.writer_ref}))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("at `data`") && text.contains("ChannelWriter"),
        "a write ref where a reader is expected names the field: {text}"
    );
}
