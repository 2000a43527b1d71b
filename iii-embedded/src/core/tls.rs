//! Serving the worker port over TLS (cargo feature `tls`): `wss://` for
//! workers, channel ends and telemetry, with a certificate the caller
//! gives (a test can make one at run time).

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The acceptor for a PEM certificate chain and its PEM private key.
pub(crate) fn acceptor(chain_pem: &[u8], key_pem: &[u8]) -> std::io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("the TLS certificate chain is not PEM", &e))?;
    if chain.is_empty() {
        return Err(invalid(
            "the TLS certificate chain",
            &"it holds no `BEGIN CERTIFICATE` block",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| invalid("the TLS private key is not PEM", &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS", &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid("the TLS certificate and key", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
