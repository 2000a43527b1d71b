//! What a worker socket says when it drops a client for a bad frame:
//! iii-embedded closes with a code (1009 for a message over the size
//! limit, 1002 for a protocol error); the engine 0.23 drops the socket
//! with none. Both ways are pinned here.

use std::time::Duration;

use futures_util::StreamExt;
use iii_tests::{Socket, engine};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A raw socket that sends and takes frames of any size.
async fn unlimited(url: &str) -> Socket {
    let config = WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(None);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("connect");
    socket
}

/// Writes bytes on the socket's TCP stream, past the WebSocket layer.
async fn write_raw(socket: &mut Socket, bytes: &[u8]) {
    match socket.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.write_all(bytes).await.expect("write"),
        _ => panic!("plain TCP"),
    }
}

/// The close code the socket ends with (`None` for an end without one),
/// within 10 s.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    let ended = async {
        loop {
            match socket.next().await {
                Some(Ok(Frame::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ended)
        .await
        .expect("the socket ends")
}

#[tokio::test]
async fn a_message_over_the_limit_ends_the_socket_with_1009() {
    let engine = engine().await;
    let mut socket = unlimited(&engine.ws_url).await;
    // Only the head of a masked text frame that says 65 MiB follow: the
    // engine refuses it at the head, with nothing else unread that would
    // turn its close into a reset.
    let mut head = vec![0x81, 0x80 | 127];
    head.extend_from_slice(&(65u64 << 20).to_be_bytes());
    head.extend_from_slice(&[1, 2, 3, 4]);
    write_raw(&mut socket, &head).await;
    let code = close_code(&mut socket).await;
    let expected = engine.embedded.as_ref().map(|_| 1009);
    assert_eq!(code, expected, "iii-embedded says 1009, the engine nothing");
}

#[tokio::test]
async fn an_unmasked_frame_ends_the_socket_with_1002() {
    let engine = engine().await;
    let mut socket = unlimited(&engine.ws_url).await;
    // A client must mask its frames: this text frame "hi" is not masked.
    write_raw(&mut socket, &[0x81, 0x02, b'h', b'i']).await;
    let code = close_code(&mut socket).await;
    let expected = engine.embedded.as_ref().map(|_| 1002);
    assert_eq!(code, expected, "iii-embedded says 1002, the engine nothing");
}
