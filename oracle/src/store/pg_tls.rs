//! TLS to PostgreSQL, with libpq's `sslmode` meanings, on rustls.
//!
//! # Why rustls (`tokio-postgres-rustls`)
//!
//! The node already carries rustls (reqwest's TLS); `postgres-openssl` / `postgres-native-tls`
//! would add OpenSSL to build, link and install on every machine. `tokio-postgres-rustls` is
//! the small, maintained adapter from rustls to the client's `MakeTlsConnect`.
//!
//! # Modes (the `sslmode` and `sslrootcert` parameters of the connection string)
//!
//! | `sslmode` | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | if the server offers it | not checked (as libpq) |
//! | `require` | always | not checked, unless `sslrootcert` is given: then as `verify-ca` (as libpq) |
//! | `verify-ca` | always | chains to `sslrootcert` (else the Mozilla roots) |
//! | `verify-full` | always | as `verify-ca`, and names the host connected to |
//!
//! The client library knows only the first three modes; the node takes `sslmode` and
//! `sslrootcert` out of the string itself.

use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Encryption only (libpq `prefer` / `require` without a root certificate).
    None,
    /// The chain, not the name (libpq `verify-ca`).
    Chain,
    /// The chain and the host name (libpq `verify-full`).
    Full,
}

/// The TLS part of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsParams {
    /// What the client library does: disable, prefer or require.
    pub mode: SslMode,
    /// How the certificate is checked when TLS is used.
    pub verify: Verify,
    /// `sslrootcert`: a PEM file of the certificates to trust.
    pub root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL or `key=value` form);
/// returns the rest, for the client library, and what they say.
pub fn split_tls_params(url: &str) -> Result<(String, TlsParams)> {
    let mut mode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: &str| -> bool {
        match key {
            "sslmode" => {
                mode = Some(value.to_string());
                true
            }
            "sslrootcert" => {
                root_cert = Some(value.to_string());
                true
            }
            _ => false,
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        let v = percent_decode(v);
                        !take(k, &v)
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_string(),
        }
    } else {
        url.split_whitespace()
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !take(k.trim(), v.trim().trim_matches('\''))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (mode, verify) = match mode.as_deref() {
        None | Some("prefer") | Some("allow") => (SslMode::Prefer, Verify::None),
        Some("disable") => (SslMode::Disable, Verify::None),
        Some("require") if root_cert.is_some() => (SslMode::Require, Verify::Chain),
        Some("require") => (SslMode::Require, Verify::None),
        Some("verify-ca") => (SslMode::Require, Verify::Chain),
        Some("verify-full") => (SslMode::Require, Verify::Full),
        Some(other) => {
            return Err(Error::Config(format!(
                "unknown sslmode `{other}` (disable, prefer, require, verify-ca or verify-full)"
            )))
        }
    };
    Ok((
        rest,
        TlsParams {
            mode,
            verify,
            root_cert,
        },
    ))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            ) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls connector for `params` (none for `disable`).
pub fn connector(params: &TlsParams) -> Result<Option<MakeRustlsConnect>> {
    if params.mode == SslMode::Disable {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::Config(format!("TLS: {err}")))?;
    let config = match params.verify {
        Verify::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptionOnly(provider)))
            .with_no_client_auth(),
        Verify::Chain | Verify::Full => {
            let roots = roots(params.root_cert.as_deref())?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|err| Error::Config(format!("TLS: {err}")))?;
            if params.verify == Verify::Full {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn roots(path: Option<&str>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match path {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|err| Error::Config(format!("sslrootcert {path}: {err}")))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| Error::Config(format!("sslrootcert {path}: {err}")))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Config(format!(
                    "sslrootcert {path}: no certificate in the file"
                )));
            }
        }
    }
    Ok(roots)
}

/// `prefer` / `require`: the handshake's signatures are checked (the session is encrypted to
/// whoever holds the certificate's key) but not who the certificate names, as libpq.
#[derive(Debug)]
struct EncryptionOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptionOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must reach a trusted root; the name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_both_forms() {
        let (rest, p) = split_tls_params(
            "postgres://u@h/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@h/db?connect_timeout=3");
        assert_eq!(
            (p.mode, p.verify, p.root_cert.as_deref()),
            (SslMode::Require, Verify::Full, Some("/tmp/ca.pem"))
        );
        let (rest, p) = split_tls_params("host=h user=u sslmode=require").unwrap();
        assert_eq!((rest.as_str(), p.verify), ("host=h user=u", Verify::None));
        let (_, p) = split_tls_params("postgres://h/db?sslmode=require&sslrootcert=/ca").unwrap();
        assert_eq!(
            p.verify,
            Verify::Chain,
            "libpq: require with a root is verify-ca"
        );
        let (rest, p) = split_tls_params("postgres://h/db").unwrap();
        assert_eq!(
            (rest.as_str(), p.mode),
            ("postgres://h/db", SslMode::Prefer)
        );
        assert!(matches!(
            split_tls_params("postgres://h/db?sslmode=sometimes"),
            Err(Error::Config(what)) if what.contains("unknown sslmode")
        ));
    }

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_a_configuration_error() {
        let params = |path: &str| TlsParams {
            mode: SslMode::Require,
            verify: Verify::Full,
            root_cert: Some(path.into()),
        };
        assert!(matches!(
            connector(&params("/nonexistent/ca.pem")),
            Err(Error::Config(what)) if what.contains("sslrootcert")
        ));
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            connector(&params(empty.path().to_str().unwrap())),
            Err(Error::Config(what)) if what.contains("no certificate")
        ));
    }
}
