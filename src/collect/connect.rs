//! Opening a session from a resolved [`ConnectionSpec`], with TLS via rustls.
//!
//! The `tokio_postgres::Config` is built field by field rather than from a
//! string because tokio-postgres' own parser only knows three sslmodes; the
//! libpq modes `verify-ca` and `verify-full` are implemented here with
//! rustls certificate verifiers. Hosts (and each address a host name
//! resolves to) are tried in order, as libpq does, so failures can be
//! classified per attempt into a [`ConnectError`] that tells a DBA what to fix.

use std::error::Error as StdError;
use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{
    ChannelBinding, ConnectionSpec, Host, PasswordSource, RootCert, SslMode, Target,
    TargetSessionAttrs,
};

/// What went wrong, coarsely, so the CLI can map failures to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectErrorKind {
    /// Local TLS/certificate configuration is unusable (missing or bad files).
    Config,
    /// The host name does not resolve.
    Dns,
    /// Nothing listens at the address (TCP refused, or no Unix socket).
    Refused,
    /// The network has no route to the host.
    Unreachable,
    /// No answer within `connect_timeout`.
    Timeout,
    /// The server rejected the credentials (28P01 / 28000).
    Authentication,
    /// The database does not exist (3D000).
    DatabaseMissing,
    /// TLS was required but the server does not offer it.
    TlsUnsupported,
    /// The server's certificate failed verification.
    Certificate,
    /// The TLS handshake failed for another reason.
    TlsHandshake,
    /// The server is out of connection slots (53300).
    TooManyConnections,
    /// Any other error reported by the server.
    Server,
    /// Anything else (protocol or I/O errors).
    Other,
}

/// Which part of certificate verification failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateCheck {
    /// The chain does not lead to a trusted root.
    Chain,
    /// The certificate does not name the host (verify-full only).
    HostName,
    /// The certificate is expired or not yet valid.
    ValidityPeriod,
    /// Anything else about the certificate (bad encoding, revoked, ...).
    Other,
}

impl fmt::Display for CertificateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertificateCheck::Chain => "chain check: the server certificate is not signed by a CA in sslrootcert",
            CertificateCheck::HostName => "host name check: the server certificate does not name this host; connect using a name the certificate lists, or use sslmode=verify-ca",
            CertificateCheck::ValidityPeriod => "validity check: the server certificate is expired or not yet valid (check its dates and this machine's clock)",
            CertificateCheck::Other => "certificate check",
        })
    }
}

/// Why a connection could not be opened. Every message names the target
/// (never the password) and says what to check.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Local configuration problem (certificate files and the like).
    #[error("cannot connect to {target}: {detail}")]
    Config {
        /// `user@host:port/dbname`.
        target: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// Host name lookup failed.
    #[error("cannot connect to {target}: could not resolve host name \"{host}\" ({detail}); check the host name and this machine's DNS")]
    Dns {
        /// `user@host:port/dbname`.
        target: String,
        /// The name that did not resolve.
        host: String,
        /// The resolver's error.
        detail: String,
    },
    /// Connection refused / no socket.
    #[error("cannot connect to {target}: {detail}; is the server running, and are the host and port right (listen_addresses, port, firewall)?")]
    Refused {
        /// `user@host:port/dbname`.
        target: String,
        /// The system error.
        detail: String,
    },
    /// No route to the host.
    #[error("cannot reach {target}: {detail}; check the address, routing and firewalls")]
    Unreachable {
        /// `user@host:port/dbname`.
        target: String,
        /// The system error.
        detail: String,
    },
    /// The attempt took longer than `connect_timeout`.
    #[error("timed out after {seconds} s connecting to {target}; the host may be down or a firewall may drop packets (raise connect_timeout if the network is slow)")]
    Timeout {
        /// `user@host:port/dbname`.
        target: String,
        /// The limit that was hit.
        seconds: u64,
    },
    /// Credentials rejected.
    #[error("authentication failed for user \"{user}\" at {target}: {detail}; {advice}")]
    Authentication {
        /// `user@host:port/dbname`.
        target: String,
        /// The role used.
        user: String,
        /// The server's message.
        detail: String,
        /// What to check, given how we tried to authenticate.
        advice: String,
    },
    /// The database does not exist.
    #[error("database \"{dbname}\" does not exist on {target}; list databases with `psql -l` or `SELECT datname FROM pg_database`, then pass the right one (dbname=, PGDATABASE or the URL path)")]
    DatabaseMissing {
        /// `user@host:port/dbname`.
        target: String,
        /// The missing database.
        dbname: String,
    },
    /// TLS required, server has none.
    #[error("{target} does not accept TLS connections, but sslmode={sslmode} requires TLS; enable ssl on the server, or use sslmode=prefer if an unencrypted connection is acceptable")]
    TlsUnsupported {
        /// `user@host:port/dbname`.
        target: String,
        /// The sslmode in force.
        sslmode: SslMode,
    },
    /// Certificate verification failed.
    #[error("certificate verification failed for {target} (sslmode={sslmode}): {check}: {detail}")]
    Certificate {
        /// `user@host:port/dbname`.
        target: String,
        /// The sslmode in force.
        sslmode: SslMode,
        /// Which check failed.
        check: CertificateCheck,
        /// The TLS library's description.
        detail: String,
    },
    /// TLS handshake failed otherwise.
    #[error("TLS handshake with {target} failed: {detail}")]
    TlsHandshake {
        /// `user@host:port/dbname`.
        target: String,
        /// The TLS library's description.
        detail: String,
    },
    /// No free connection slots.
    #[error("{target} has no free connection slots: {detail}; retry later or close idle sessions (pgadvise needs one connection)")]
    TooManyConnections {
        /// `user@host:port/dbname`.
        target: String,
        /// The server's message.
        detail: String,
    },
    /// Any other error the server reported.
    #[error("{target} rejected the connection: {message} (SQLSTATE {code})")]
    Server {
        /// `user@host:port/dbname`.
        target: String,
        /// SQLSTATE.
        code: String,
        /// The server's message (with detail/hint if any).
        message: String,
    },
    /// Anything else.
    #[error("cannot connect to {target}: {detail}")]
    Other {
        /// `user@host:port/dbname`.
        target: String,
        /// The error chain, flattened.
        detail: String,
    },
    /// Several hosts were given and none accepted.
    #[error("could not connect to any host of {target}:{}", list_attempts(.attempts))]
    AllHostsFailed {
        /// `user@h1:p1,h2:p2/dbname`.
        target: String,
        /// One error per host, in the order tried.
        attempts: Vec<ConnectError>,
    },
}

fn list_attempts(attempts: &[ConnectError]) -> String {
    attempts.iter().map(|a| format!("\n  - {a}")).collect()
}

impl ConnectError {
    /// The coarse category; for several hosts, that of the most telling failure.
    pub fn kind(&self) -> ConnectErrorKind {
        match self {
            ConnectError::Config { .. } => ConnectErrorKind::Config,
            ConnectError::Dns { .. } => ConnectErrorKind::Dns,
            ConnectError::Refused { .. } => ConnectErrorKind::Refused,
            ConnectError::Unreachable { .. } => ConnectErrorKind::Unreachable,
            ConnectError::Timeout { .. } => ConnectErrorKind::Timeout,
            ConnectError::Authentication { .. } => ConnectErrorKind::Authentication,
            ConnectError::DatabaseMissing { .. } => ConnectErrorKind::DatabaseMissing,
            ConnectError::TlsUnsupported { .. } => ConnectErrorKind::TlsUnsupported,
            ConnectError::Certificate { .. } => ConnectErrorKind::Certificate,
            ConnectError::TlsHandshake { .. } => ConnectErrorKind::TlsHandshake,
            ConnectError::TooManyConnections { .. } => ConnectErrorKind::TooManyConnections,
            ConnectError::Server { .. } => ConnectErrorKind::Server,
            ConnectError::Other { .. } => ConnectErrorKind::Other,
            ConnectError::AllHostsFailed { attempts, .. } => attempts
                .iter()
                .max_by_key(|a| a.informativeness())
                .map_or(ConnectErrorKind::Other, ConnectError::kind),
        }
    }

    /// How much a failure says about the real problem: an answer from a
    /// server beats a network failure, which beats a name lookup failure.
    /// Used to pick which error to report when several addresses failed.
    fn informativeness(&self) -> u8 {
        match self.kind() {
            ConnectErrorKind::Dns => 0,
            ConnectErrorKind::Refused | ConnectErrorKind::Unreachable | ConnectErrorKind::Other => {
                1
            }
            ConnectErrorKind::Timeout => 2,
            _ => 3,
        }
    }
}

/// Opens a session to the first target that accepts, spawning the
/// connection driver on the current tokio runtime.
///
/// Each target (and each address its name resolves to) gets the spec's
/// `connect_timeout` for the whole attempt including TLS and
/// authentication; resolution defaults it to 10 s
/// ([`DEFAULT_CONNECT_TIMEOUT`](super::conninfo::DEFAULT_CONNECT_TIMEOUT)) so
/// a black-holed host fails fast instead of hanging like libpq would.
pub async fn connect(spec: &ConnectionSpec) -> Result<Client, ConnectError> {
    let display = spec.display_target();
    let tls = build_tls(spec).map_err(|detail| ConnectError::Config {
        target: display.clone(),
        detail,
    })?;

    let mut failures = Vec::new();
    for target in &spec.targets {
        match connect_target(spec, target, &tls).await {
            Ok(client) => return Ok(client),
            Err(error) => failures.push(error),
        }
    }
    if failures.len() == 1 {
        if let Some(only) = failures.pop() {
            return Err(only);
        }
    }
    Err(ConnectError::AllHostsFailed {
        target: display,
        attempts: failures,
    })
}

/// TLS connectors chosen once per spec.
struct TlsConnectors {
    /// Configured for the spec's sslmode; unused when TLS is off.
    connector: MakeRustlsConnect,
    /// How the TCP connector treats certificates, for error messages.
    effective_mode: SslMode,
}

/// Tries one target: every address of its host, keeping the most telling error.
async fn connect_target(
    spec: &ConnectionSpec,
    target: &Target,
    tls: &TlsConnectors,
) -> Result<Client, ConnectError> {
    use tokio_postgres::config::SslMode as PgSslMode;
    let display = spec.display_single_target(target);

    let host_name = match &target.host {
        Host::Unix(dir) => {
            // PostgreSQL never offers TLS on Unix sockets, and libpq does not ask.
            let mut config = base_config(spec, target);
            config.host_path(dir).ssl_mode(PgSslMode::Disable);
            return open(&config, tls, spec, target, &display).await;
        }
        Host::Tcp(name) => name,
    };
    let pg_sslmode = match tls.effective_mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    };

    let addresses = addresses_of(target, host_name, spec.connect_timeout)
        .await
        .map_err(|error| match error {
            LookupError::Timeout => ConnectError::Timeout {
                target: display.clone(),
                seconds: spec.connect_timeout.map_or(0, |t| t.as_secs()),
            },
            LookupError::Failed(detail) => ConnectError::Dns {
                target: display.clone(),
                host: host_name.clone(),
                detail,
            },
        })?;

    let mut best: Option<ConnectError> = None;
    for address in addresses {
        // The name stays the TLS and password-file identity; the address is
        // only where the socket goes.
        let mut config = base_config(spec, target);
        config
            .host(host_name.as_str())
            .hostaddr(address)
            .ssl_mode(pg_sslmode);
        match open(&config, tls, spec, target, &display).await {
            Ok(client) => return Ok(client),
            Err(error) => {
                if best
                    .as_ref()
                    .is_none_or(|b| error.informativeness() >= b.informativeness())
                {
                    best = Some(error);
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| ConnectError::Dns {
        target: display,
        host: host_name.clone(),
        detail: "the name resolved to no addresses".to_owned(),
    }))
}

/// Everything but host, hostaddr and sslmode.
fn base_config(spec: &ConnectionSpec, target: &Target) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .user(&spec.user)
        .dbname(&spec.dbname)
        .application_name(&spec.application_name)
        .port(target.port)
        .target_session_attrs(match spec.target_session_attrs {
            TargetSessionAttrs::Any => tokio_postgres::config::TargetSessionAttrs::Any,
            TargetSessionAttrs::ReadWrite => tokio_postgres::config::TargetSessionAttrs::ReadWrite,
            TargetSessionAttrs::ReadOnly => tokio_postgres::config::TargetSessionAttrs::ReadOnly,
        })
        .channel_binding(match spec.channel_binding {
            ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
            ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
            ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
        });
    if let Some(password) = spec.password_for(target) {
        config.password(password);
    }
    if let Some(options) = &spec.options {
        config.options(options);
    }
    if let Some(timeout) = spec.connect_timeout {
        config.connect_timeout(timeout);
    }
    config
}

enum LookupError {
    Timeout,
    Failed(String),
}

/// The addresses to try for a TCP target. Resolving here (rather than
/// letting tokio-postgres do it) is what lets DNS failures be told apart.
async fn addresses_of(
    target: &Target,
    host_name: &str,
    timeout: Option<Duration>,
) -> Result<Vec<IpAddr>, LookupError> {
    if let Some(address) = target.hostaddr {
        return Ok(vec![address]);
    }
    if let Ok(address) = host_name.parse::<IpAddr>() {
        return Ok(vec![address]);
    }
    let lookup = tokio::net::lookup_host((host_name, target.port));
    let resolved = match timeout {
        Some(limit) => tokio::time::timeout(limit, lookup)
            .await
            .map_err(|_| LookupError::Timeout)?,
        None => lookup.await,
    }
    .map_err(|error| LookupError::Failed(error.to_string()))?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in resolved.map(|socket| socket.ip()) {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    Ok(addresses)
}

/// One connection attempt with the overall time limit; spawns the driver on success.
async fn open(
    config: &tokio_postgres::Config,
    tls: &TlsConnectors,
    spec: &ConnectionSpec,
    target: &Target,
    display: &str,
) -> Result<Client, ConnectError> {
    let attempt = config.connect(tls.connector.clone());
    let result = match spec.connect_timeout {
        Some(limit) => match tokio::time::timeout(limit, attempt).await {
            Ok(result) => result,
            Err(_) => {
                return Err(ConnectError::Timeout {
                    target: display.to_owned(),
                    seconds: limit.as_secs(),
                })
            }
        },
        None => attempt.await,
    };
    match result {
        Ok((client, connection)) => {
            // The driver ends when the client is dropped or the server goes
            // away; the client then reports the closed connection itself.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Err(error) => Err(classify(&error, spec, target, display, tls.effective_mode)),
    }
}

// ---------------------------------------------------------------------------
// Error classification
// ---------------------------------------------------------------------------

/// The error and its causes as one line. tokio-postgres' `Display` shows
/// only the category ("error connecting to server"), not the cause.
fn error_chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Every error in the chain, including the inner error of an `io::Error`
/// (whose `source()` skips it).
fn chain_members<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut members = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        members.push(e);
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            members.push(inner as &(dyn StdError + 'static));
        }
        current = e.source();
    }
    members
}

fn describe_password_source(source: &PasswordSource) -> String {
    match source {
        PasswordSource::None => "no password was supplied".to_owned(),
        PasswordSource::ConnectionString => "password from the connection string".to_owned(),
        PasswordSource::EnvironmentVariable => "password from PGPASSWORD".to_owned(),
        PasswordSource::Program => "password set by pgadvise".to_owned(),
        PasswordSource::PasswordFile(path) => format!("password from {}", path.display()),
    }
}

fn classify(
    error: &tokio_postgres::Error,
    spec: &ConnectionSpec,
    target: &Target,
    display: &str,
    sslmode: SslMode,
) -> ConnectError {
    let target_text = display.to_owned();
    let authentication = |detail: String| {
        let advice = if detail.contains("certificate") {
            "check the client certificate and key (sslcert/sslkey, PGSSLCERT/PGSSLKEY; its CN must be the user name) and the server's pg_hba.conf".to_owned()
        } else {
            format!(
                "check the user name and password ({}), PGPASSWORD, ~/.pgpass, and the server's pg_hba.conf",
                describe_password_source(&spec.password_source_for(target))
            )
        };
        ConnectError::Authentication {
            target: target_text.clone(),
            user: spec.user.clone(),
            detail,
            advice,
        }
    };

    if let Some(db) = error.as_db_error() {
        let mut message = db.message().to_owned();
        if let Some(detail) = db.detail() {
            message.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!(" hint: {hint}"));
        }
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            authentication(message)
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            ConnectError::DatabaseMissing {
                target: target_text,
                dbname: spec.dbname.clone(),
            }
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            ConnectError::TooManyConnections {
                target: target_text,
                detail: message,
            }
        } else {
            ConnectError::Server {
                target: target_text,
                code: code.code().to_owned(),
                message,
            }
        };
    }

    let detail = error_chain_text(error);
    let members = chain_members(error);

    for member in &members {
        if let Some(tls_error) = member.downcast_ref::<rustls::Error>() {
            return match tls_error {
                rustls::Error::InvalidCertificate(certificate_error) => ConnectError::Certificate {
                    target: target_text,
                    sslmode,
                    check: certificate_check(certificate_error),
                    detail: tls_error.to_string(),
                },
                _ => ConnectError::TlsHandshake {
                    target: target_text,
                    detail,
                },
            };
        }
    }

    // tokio-postgres reports these two only as text.
    if detail.contains("server does not support TLS") {
        return ConnectError::TlsUnsupported {
            target: target_text,
            sslmode,
        };
    }
    if detail.contains("password missing") {
        return authentication("the server asked for a password but none was supplied".to_owned());
    }

    for member in &members {
        if let Some(io_error) = member.downcast_ref::<io::Error>() {
            match io_error.kind() {
                io::ErrorKind::ConnectionRefused => {
                    return ConnectError::Refused {
                        target: target_text,
                        detail: "connection refused".to_owned(),
                    }
                }
                io::ErrorKind::NotFound => {
                    let detail = match target.socket_path() {
                        Some(path) => format!("no server socket at {}", path.display()),
                        None => io_error.to_string(),
                    };
                    return ConnectError::Refused {
                        target: target_text,
                        detail,
                    };
                }
                io::ErrorKind::TimedOut => {
                    return ConnectError::Timeout {
                        target: target_text,
                        seconds: spec.connect_timeout.map_or(0, |t| t.as_secs()),
                    }
                }
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                    return ConnectError::Unreachable {
                        target: target_text,
                        detail: io_error.to_string(),
                    }
                }
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted => {
                    return closed_early(target_text, &detail);
                }
                _ => {}
            }
        }
    }

    // tokio-postgres' codec reports a peer that hung up mid-message this way.
    if detail.contains("bytes remaining on stream") {
        return closed_early(target_text, &detail);
    }

    ConnectError::Other {
        target: target_text,
        detail,
    }
}

/// Something accepted the TCP connection and then hung up: usually not a
/// PostgreSQL server on that port, or a proxy/pooler refusing us.
fn closed_early(target: String, detail: &str) -> ConnectError {
    ConnectError::Other {
        target,
        detail: format!(
            "the peer closed the connection before the session started ({detail}); check that a PostgreSQL server (not another service) listens on that port, and any proxy or pooler in between"
        ),
    }
}

fn certificate_check(error: &CertificateError) -> CertificateCheck {
    match error {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateCheck::HostName
        }
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::InvalidPurpose
        | CertificateError::InvalidPurposeContext { .. } => CertificateCheck::Chain,
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => CertificateCheck::ValidityPeriod,
        _ => CertificateCheck::Other,
    }
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// Builds the TLS connector for the spec's sslmode, following libpq:
/// disable/allow/prefer/require encrypt without verifying (so a server with
/// a self-signed certificate still works), except that `require` verifies
/// the chain like `verify-ca` when a root certificate file exists.
fn build_tls(spec: &ConnectionSpec) -> Result<TlsConnectors, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let (verifier, effective_mode): (Arc<dyn ServerCertVerifier>, SslMode) = match spec.sslmode {
        SslMode::Disable | SslMode::Allow | SslMode::Prefer => (
            Arc::new(PostgresCertVerifier {
                roots: None,
                provider: provider.clone(),
            }),
            spec.sslmode,
        ),
        SslMode::Require => match &spec.sslrootcert {
            Some(RootCert::File(path)) if path.exists() => (
                Arc::new(PostgresCertVerifier {
                    roots: Some(Arc::new(load_root_file(path)?)),
                    provider: provider.clone(),
                }),
                SslMode::VerifyCa,
            ),
            _ => (
                Arc::new(PostgresCertVerifier {
                    roots: None,
                    provider: provider.clone(),
                }),
                SslMode::Require,
            ),
        },
        SslMode::VerifyCa => (
            Arc::new(PostgresCertVerifier {
                roots: Some(Arc::new(load_roots(spec)?)),
                provider: provider.clone(),
            }),
            SslMode::VerifyCa,
        ),
        SslMode::VerifyFull => {
            let verifier = WebPkiServerVerifier::builder_with_provider(
                Arc::new(load_roots(spec)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("cannot use the root certificates: {e}"))?;
            (verifier, SslMode::VerifyFull)
        }
    };

    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let config = match (&spec.sslcert, spec.sslmode) {
        (_, SslMode::Disable) | (None, _) => builder.with_no_client_auth(),
        (Some(cert_path), _) => {
            let Some(key_path) = &spec.sslkey else {
                return Err(format!(
                    "client certificate {} given without a key; set sslkey (or PGSSLKEY)",
                    cert_path.display()
                ));
            };
            let certs = load_certificates(cert_path, "client certificate (sslcert)")?;
            let key = load_private_key(key_path)?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                format!(
                    "client certificate {} and key {} cannot be used together: {e}",
                    cert_path.display(),
                    key_path.display()
                )
            })?
        }
    };

    Ok(TlsConnectors {
        connector: MakeRustlsConnect::new(config),
        effective_mode,
    })
}

/// Roots for verify-ca / verify-full; a missing file is an error, not a downgrade.
fn load_roots(spec: &ConnectionSpec) -> Result<RootCertStore, String> {
    match &spec.sslrootcert {
        Some(RootCert::System) => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        Some(RootCert::File(path)) => {
            if !path.exists() {
                return Err(format!(
                    "sslmode={} needs the CA certificate that signed the server's certificate, but root certificate file {} does not exist; put the CA certificate (PEM) there, set sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT), use sslrootcert=system for publicly signed servers, or use sslmode=require to skip verification",
                    spec.sslmode,
                    path.display()
                ));
            }
            load_root_file(path)
        }
        None => Err(format!(
            "sslmode={} needs a root certificate, but HOME is not set so ~/.postgresql/root.crt cannot be found; set sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT)",
            spec.sslmode
        )),
    }
}

fn load_root_file(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(path, "root certificate file (sslrootcert)")? {
        roots.add(certificate).map_err(|e| {
            format!(
                "root certificate file {} contains an unusable certificate: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

fn load_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let content =
        fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&content)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot parse {what} {}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!(
            "{what} {} contains no PEM certificates (\"-----BEGIN CERTIFICATE-----\")",
            path.display()
        ));
    }
    Ok(certificates)
}

/// Loads the client key, refusing keys others can read, as libpq does
/// (a leaked client key is a leaked credential).
fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let metadata = fs::metadata(path).map_err(|e| {
        format!(
            "cannot read private key file (sslkey) {}: {e}",
            path.display()
        )
    })?;
    let owned_by_us = fs::metadata("/proc/self").is_ok_and(|me| me.uid() == metadata.uid());
    // libpq: 0600 or less if owned by the user, 0640 or less if owned by root.
    let forbidden = if owned_by_us { 0o077 } else { 0o037 };
    if metadata.permissions().mode() & forbidden != 0 {
        return Err(format!(
            "private key file {} has group or world access; it must be u=rw (0600) or less (fix with: chmod 0600 {})",
            path.display(),
            path.display()
        ));
    }
    let content = fs::read(path).map_err(|e| {
        format!(
            "cannot read private key file (sslkey) {}: {e}",
            path.display()
        )
    })?;
    // The first key of any kind (PKCS#1, PKCS#8, SEC1); other sections are skipped.
    PrivateKeyDer::from_pem_slice(&content).map_err(|e| match e {
        pem::Error::NoItemsFound => format!(
            "private key file {} contains no unencrypted PEM private key (encrypted keys are not supported)",
            path.display()
        ),
        other => format!("cannot parse private key file {}: {other}", path.display()),
    })
}

/// Server-certificate checks below verify-full, as libpq does them.
/// Without roots (sslmode below verify-ca): encrypt, accept any certificate.
/// With roots (verify-ca, or require with a root file): the chain must lead
/// to a trusted root, but the host name is not compared (useful when
/// connecting by an address or alias the certificate does not list).
/// Handshake signatures are always checked, so the session key is bound to
/// the presented certificate.
#[derive(Debug)]
struct PostgresCertVerifier {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PostgresCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let certificate = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &certificate,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::conninfo::{resolve, StaticEnvironment};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const SECRET: &str = "s3cr3t-PW";

    fn spec(conninfo: &str) -> ConnectionSpec {
        let env = StaticEnvironment {
            os_user: Some("tester".to_owned()),
            ..StaticEnvironment::default()
        };
        match resolve(Some(conninfo), &env) {
            Ok(spec) => spec,
            Err(error) => panic!("bad test conninfo: {error}"),
        }
    }

    /// How the fake server answers one connection.
    #[derive(Clone, Copy)]
    enum FakeServer {
        /// Accept and never say anything.
        Silent,
        /// Accept and close at once (not a PostgreSQL server).
        HangUp,
        /// Refuse TLS, then answer the startup message with this SQLSTATE.
        ErrorAfterStartup(&'static str, &'static str),
    }

    /// Speaks just enough of the protocol to produce one kind of failure.
    async fn start_fake_server(behaviour: FakeServer) -> u16 {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("bind: {error}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            if let FakeServer::HangUp = behaviour {
                return;
            }
            if let FakeServer::ErrorAfterStartup(code, message) = behaviour {
                loop {
                    let Ok(length) = socket.read_u32().await else {
                        return;
                    };
                    let mut body = vec![0; length.saturating_sub(4) as usize];
                    if socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    // SSLRequest: decline and wait for the startup message.
                    if body == [0x04, 0xd2, 0x16, 0x2f] {
                        let _ = socket.write_all(b"N").await;
                        continue;
                    }
                    break;
                }
                let mut fields = Vec::new();
                for (tag, value) in [
                    (b'S', "FATAL"),
                    (b'V', "FATAL"),
                    (b'C', code),
                    (b'M', message),
                ] {
                    fields.push(tag);
                    fields.extend_from_slice(value.as_bytes());
                    fields.push(0);
                }
                fields.push(0);
                let mut packet = vec![b'E'];
                packet.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
                packet.extend_from_slice(&fields);
                let _ = socket.write_all(&packet).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        port
    }

    /// A port nothing listens on: bind, note the port, close.
    async fn closed_port() -> u16 {
        match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener.local_addr().map(|a| a.port()).unwrap_or(1),
            Err(error) => panic!("bind: {error}"),
        }
    }

    fn assert_no_secret(error: &ConnectError) {
        let text = format!("{error} {error:?}");
        assert!(!text.contains(SECRET), "password leaked: {text}");
    }

    async fn connect_err(spec: &ConnectionSpec) -> ConnectError {
        match connect(spec).await {
            Ok(_) => panic!(
                "connect to {} unexpectedly succeeded",
                spec.display_target()
            ),
            Err(error) => {
                assert_no_secret(&error);
                error
            }
        }
    }

    #[tokio::test]
    async fn classifies_failures_without_a_real_server() {
        let port = closed_port().await;
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port={port} user=alice dbname=app password={SECRET}"
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Refused, "{error}");
        assert!(error
            .to_string()
            .contains(&format!("alice@127.0.0.1:{port}/app")));

        let port = start_fake_server(FakeServer::Silent).await;
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port={port} user=alice password={SECRET} connect_timeout=2 sslmode=disable"
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Timeout, "{error}");

        let port = start_fake_server(FakeServer::HangUp).await;
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port={port} user=alice password={SECRET} sslmode=disable"
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Other, "{error}");
        assert!(
            error.to_string().contains("closed the connection"),
            "{error}"
        );

        let cases = [
            (
                "28P01",
                "password authentication failed for user \"alice\"",
                ConnectErrorKind::Authentication,
            ),
            (
                "28000",
                "no pg_hba.conf entry for host",
                ConnectErrorKind::Authentication,
            ),
            (
                "3D000",
                "database \"app\" does not exist",
                ConnectErrorKind::DatabaseMissing,
            ),
            (
                "53300",
                "sorry, too many clients already",
                ConnectErrorKind::TooManyConnections,
            ),
            (
                "57P03",
                "the database system is starting up",
                ConnectErrorKind::Server,
            ),
        ];
        for (code, message, kind) in cases {
            let port = start_fake_server(FakeServer::ErrorAfterStartup(code, message)).await;
            let error = connect_err(&spec(&format!(
                "host=127.0.0.1 port={port} user=alice dbname=app password={SECRET}"
            )))
            .await;
            assert_eq!(error.kind(), kind, "{code}: {error}");
        }

        let port = start_fake_server(FakeServer::ErrorAfterStartup("28P01", "nope")).await;
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port={port} user=alice sslmode=require password={SECRET}"
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::TlsUnsupported, "{error}");
        assert!(error.to_string().contains("sslmode=require"));
    }

    #[tokio::test]
    async fn several_hosts_report_every_attempt() {
        let (first, second) = (closed_port().await, closed_port().await);
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1,127.0.0.1 port={first},{second} user=alice password={SECRET}"
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Refused);
        let text = error.to_string();
        assert!(
            text.contains(&first.to_string()) && text.contains(&second.to_string()),
            "{text}"
        );
    }

    #[tokio::test]
    async fn missing_unix_socket_names_the_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let error = connect_err(&spec(&format!(
            "host={} port=5999 user=alice",
            dir.path().display()
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Refused, "{error}");
        assert!(error.to_string().contains(".s.PGSQL.5999"), "{error}");
    }

    #[tokio::test]
    async fn verify_modes_need_an_existing_root_certificate() {
        for mode in ["verify-ca", "verify-full"] {
            let error = connect_err(&spec(&format!(
                "host=127.0.0.1 port=1 user=alice password={SECRET} sslmode={mode} sslrootcert=/nonexistent/ca.crt"
            )))
            .await;
            assert_eq!(error.kind(), ConnectErrorKind::Config);
            let text = error.to_string();
            assert!(
                text.contains("/nonexistent/ca.crt") && text.contains("sslrootcert="),
                "{text}"
            );
        }
        // No HOME and no sslrootcert: say so instead of guessing.
        let error = connect_err(&spec(
            "host=127.0.0.1 port=1 user=alice sslmode=verify-full",
        ))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Config);
        assert!(error.to_string().contains("HOME"));

        // A file that is not PEM is rejected with its path.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let bogus = dir.path().join("ca.crt");
        fs::write(&bogus, "not a certificate").unwrap_or_else(|e| panic!("write: {e}"));
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port=1 user=alice sslmode=verify-ca sslrootcert={}",
            bogus.display()
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Config);
        assert!(error.to_string().contains("no PEM certificates"), "{error}");

        // require with a bogus but existing root file behaves like verify-ca: it must parse.
        let error = connect_err(&spec(&format!(
            "host=127.0.0.1 port=1 user=alice sslmode=require sslrootcert={}",
            bogus.display()
        )))
        .await;
        assert_eq!(error.kind(), ConnectErrorKind::Config);
    }

    #[test]
    fn certificate_failures_name_the_check() {
        let cases = [
            (
                CertificateError::NotValidForName,
                CertificateCheck::HostName,
            ),
            (CertificateError::UnknownIssuer, CertificateCheck::Chain),
            (CertificateError::BadSignature, CertificateCheck::Chain),
            (CertificateError::Expired, CertificateCheck::ValidityPeriod),
            (CertificateError::BadEncoding, CertificateCheck::Other),
        ];
        for (error, check) in cases {
            assert_eq!(certificate_check(&error), check, "{error:?}");
        }
    }

    #[test]
    fn chain_text_includes_inner_io_errors() {
        let inner = io::Error::new(io::ErrorKind::InvalidData, "bad record");
        let outer = io::Error::other(inner);
        let members = chain_members(&outer);
        assert!(members.len() >= 2);
        assert!(error_chain_text(&outer).contains("bad record"));
    }

    #[test]
    fn pem_files_fail_with_what_is_wrong() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::write(&path, text).expect("writing a test file");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .expect("restricting a test file");
            path
        };
        let empty = write("empty.pem", "");
        let truncated = write("truncated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let certificate_only = write(
            "certificate.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let missing = dir.path().join("missing.pem");

        let certificate_cases = [
            (&missing, "cannot read root certificate file (sslrootcert)"),
            (&empty, "contains no PEM certificates"),
            (
                &truncated,
                "cannot parse root certificate file (sslrootcert)",
            ),
        ];
        for (path, want) in certificate_cases {
            let message = load_certificates(path, "root certificate file (sslrootcert)")
                .err()
                .unwrap_or_default();
            assert!(message.contains(want), "{}: {message}", path.display());
        }

        let key_cases = [
            (&missing, "cannot read private key file (sslkey)"),
            (&empty, "contains no unencrypted PEM private key"),
            (&certificate_only, "contains no unencrypted PEM private key"),
            (&truncated, "cannot parse private key file"),
        ];
        for (path, want) in key_cases {
            let message = load_private_key(path).err().unwrap_or_default();
            assert!(message.contains(want), "{}: {message}", path.display());
        }
    }
}
