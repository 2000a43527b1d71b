//! How the worker's sockets are opened: plain for `ws://`, or, with the
//! cargo feature `tls`, TLS (rustls) for `wss://`, trusting the platform's
//! roots, the Mozilla roots (`webpki-roots`) and any roots the builder or
//! `III_TLS_CA_FILE` adds (for an engine with a self-signed certificate).

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::Error;

/// An open WebSocket to the engine, plain or TLS.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the worker's sockets (the worker socket, channel ends, `/otel`).
#[derive(Clone, Default)]
pub(crate) struct Connector {
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "tls")]
        let tls = self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        let tls = false;
        f.debug_struct("Connector").field("tls", &tls).finish()
    }
}

impl Connector {
    /// The connector for an engine at `url`, trusting `extra_roots` (PEM,
    /// each with where it came from) besides the usual roots for `wss://`.
    pub(crate) fn for_url(
        url: &str,
        extra_roots: &[(String, Vec<u8>)],
    ) -> Result<Connector, Error> {
        if !url.starts_with("wss://") {
            return Ok(Connector::default());
        }
        #[cfg(feature = "tls")]
        {
            Ok(Connector {
                tls: Some(client_config(extra_roots)?),
            })
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = extra_roots;
            Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "`wss://` needs the `tls` cargo feature of iii-rs; enable it, or use `ws://` (for example behind a TLS-terminating proxy)".into(),
            })
        }
    }

    /// Dials `request` and completes the WebSocket handshake.
    pub(crate) async fn connect(
        &self,
        request: Request,
        config: WebSocketConfig,
    ) -> Result<(Socket, Response), WsError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tokio_tungstenite::connect_async_tls_with_config(
                request,
                Some(config),
                true,
                Some(tokio_tungstenite::Connector::Rustls(tls.clone())),
            )
            .await;
        }
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await
    }

    /// Dials `url` with `headers` on the upgrade.
    pub(crate) async fn connect_url(
        &self,
        url: &str,
        headers: &[(String, String)],
        config: WebSocketConfig,
    ) -> Result<(Socket, Response), WsError> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            // The worker's builder checked every header already.
            if let (Ok(name), Ok(value)) = (
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()),
                tokio_tungstenite::tungstenite::http::HeaderValue::from_str(value),
            ) {
                request.headers_mut().append(name, value);
            }
        }
        self.connect(request, config).await
    }
}

/// Whether `error` is one no retry cures: the engine's certificate is not
/// trusted, or its name does not match.
pub(crate) fn is_certificate_error(error: &WsError) -> bool {
    #[cfg(feature = "tls")]
    {
        // tokio-rustls reports a failed handshake as an I/O error carrying
        // rustls's.
        let rustls_error = match error {
            WsError::Io(io) => io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
            WsError::Tls(tokio_tungstenite::tungstenite::error::TlsError::Rustls(e)) => Some(&**e),
            _ => None,
        };
        if let Some(e) = rustls_error {
            return matches!(e, rustls::Error::InvalidCertificate(_));
        }
    }
    let _ = error;
    false
}

/// A rustls client config trusting the platform's roots, the Mozilla roots
/// and `extra_roots` (PEM, one or more certificates each).
#[cfg(feature = "tls")]
fn client_config(
    extra_roots: &[(String, Vec<u8>)],
) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Platform roots: those that load (a broken system store is not fatal).
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    for (source, pem) in extra_roots {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                Error::invalid(source.clone(), format!("it is not a PEM certificate: {e}"))
            })?;
            roots
                .add(cert)
                .map_err(|e| Error::invalid(source.clone(), format!("rustls refused it: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::invalid(
                source.clone(),
                "it holds no `-----BEGIN CERTIFICATE-----` block",
            ));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid("TLS", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}
