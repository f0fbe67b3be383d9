//! The rustls client configuration the driver's TLS connections use.
//!
//! The driver hands rustls each node's IP address as the server name (and
//! so sends no SNI), which leaves checking a configured server name, or
//! none, to a verifier of our own. It always verifies the chain to the
//! configured CAs; only the name check varies.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::CassandraError;
use super::connection::{ClientCertificate, HostVerification, TlsOptions};

/// Reads the configured files and builds the configuration; every problem
/// with a file names the file.
pub(super) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, CassandraError> {
    // Explicit rather than the process-wide default, which rustls cannot pick
    // on its own if some other crate in the build enables a second provider.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = NodeVerifier {
        roots: trusted_roots(&options.ca_file)?,
        algorithms: provider.signature_verification_algorithms,
        expected_name: expected_name(&options.host_verification)?,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| CassandraError::Tls(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match &options.client_certificate {
        None => builder.with_no_client_auth(),
        Some(client) => {
            let (chain, key) = client_identity(client)?;
            builder.with_client_auth_cert(chain, key).map_err(|error| {
                CassandraError::tls_file("client key file", &client.key_file, format!("does not match the certificate: {error}"))
            })?
        }
    };
    Ok(Arc::new(config))
}

fn trusted_roots(ca_file: &Path) -> Result<Arc<RootCertStore>, CassandraError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(ca_file, "CA file")? {
        roots
            .add(certificate)
            .map_err(|error| CassandraError::tls_file("CA file", ca_file, format!("holds an unusable certificate: {error}")))?;
    }
    Ok(Arc::new(roots))
}

fn client_identity(client: &ClientCertificate) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CassandraError> {
    let chain = certificates(&client.cert_file, "client certificate file")?;
    let pem = read("client key file", &client.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|error| {
        CassandraError::tls_file("client key file", &client.key_file, format!("holds no PEM private key ({error})"))
    })?;
    Ok((chain, key))
}

/// Every certificate in a PEM file; a file without one is a mistake.
fn certificates(path: &Path, role: &'static str) -> Result<Vec<CertificateDer<'static>>, CassandraError> {
    let pem = read(role, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| CassandraError::tls_file(role, path, format!("is not valid PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(CassandraError::tls_file(role, path, "holds no PEM certificate".to_string()));
    }
    Ok(certificates)
}

fn read(role: &'static str, path: &Path) -> Result<Vec<u8>, CassandraError> {
    std::fs::read(path).map_err(|error| CassandraError::tls_file(role, path, error.to_string()))
}

fn expected_name(verification: &HostVerification) -> Result<ExpectedName, CassandraError> {
    Ok(match verification {
        HostVerification::NodeAddress => ExpectedName::NodeAddress,
        HostVerification::Off => ExpectedName::Any,
        HostVerification::ServerName(name) => ExpectedName::Fixed(
            ServerName::try_from(name.clone())
                .map_err(|_| CassandraError::Tls(format!("server name `{name}` is not a DNS name or IP address")))?,
        ),
    })
}

#[derive(Debug)]
enum ExpectedName {
    NodeAddress,
    Fixed(ServerName<'static>),
    Any,
}

#[derive(Debug)]
struct NodeVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    expected_name: ExpectedName,
}

impl ServerCertVerifier for NodeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        node_address: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(&certificate, &self.roots, intermediates, now, self.algorithms.all)?;
        match &self.expected_name {
            ExpectedName::NodeAddress => verify_server_name(&certificate, node_address)?,
            ExpectedName::Fixed(name) => verify_server_name(&certificate, name)?,
            ExpectedName::Any => {}
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn options(ca_file: PathBuf) -> TlsOptions {
        TlsOptions { ca_file, client_certificate: None, host_verification: HostVerification::NodeAddress }
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let error = client_config(&options(PathBuf::from("/nonexistent/ca.pem"))).unwrap_err().to_string();
        assert!(error.contains("CA file /nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let error = client_config(&options(ca)).unwrap_err().to_string();
        assert!(error.contains("holds no PEM certificate"), "{error}");
    }
}
