//! Turning what the user typed (and their libpq environment) into a fully
//! resolved [`ConnectionSpec`].
//!
//! DBAs already have working `psql` setups, so pgadvise follows libpq's rules
//! rather than inventing its own: the same two string forms (URL and
//! `key=value`), the same `PG*` environment variables, the same defaults and
//! the same password file. Everything here is pure apart from reading the
//! password file; the process environment is reached only through the
//! [`Environment`] trait so tests can supply their own.
//!
//! Passwords never appear in `Debug`/`Display` output or in errors: the
//! password is held in a private type whose `Debug` prints `***`, and errors
//! about malformed input quote a redacted copy (see [`ConnectionSpec::redact`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// PostgreSQL's default port, used when neither the string nor `PGPORT` names one.
pub const DEFAULT_PORT: u16 = 5432;
/// Reported in `pg_stat_activity` so DBAs can tell pgadvise's sessions apart.
pub const DEFAULT_APPLICATION_NAME: &str = "pgadvise";
/// Applied when `connect_timeout` is not set: libpq would wait forever, but a
/// tool run against production should fail fast on a black-holed host.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Debian/Ubuntu's compiled-in socket directory (libpq on those systems uses it).
pub const DEBIAN_SOCKET_DIR: &str = "/var/run/postgresql";
/// Upstream PostgreSQL's compiled-in socket directory.
pub const UPSTREAM_SOCKET_DIR: &str = "/tmp";
/// What a redacted password is replaced with.
const REDACTED: &str = "***";

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

/// The parts of the process environment resolution reads, injectable so
/// unit tests never depend on (or touch) the real environment.
pub trait Environment {
    /// An environment variable, `None` if unset or not valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a file or directory exists (for default socket dir and
    /// default client certificate detection).
    fn path_exists(&self, path: &Path) -> bool;
    /// The login name of the current OS user (libpq's final fallback for `user`).
    fn os_user_name(&self) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn path_exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn os_user_name(&self) -> Option<String> {
        // The owner of /proc/self is our effective uid; this avoids a libc dependency.
        let uid = fs::metadata("/proc/self").ok()?.uid();
        let passwd = fs::read_to_string("/etc/passwd").ok()?;
        user_name_for_uid(&passwd, uid)
    }
}

/// Finds the login name for `uid` in `/etc/passwd` content.
fn user_name_for_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let line_uid: u32 = fields.next()?.parse().ok()?;
        (line_uid == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// A fixed environment built from maps, for tests and for callers that want
/// to resolve a spec without looking at the process environment.
#[derive(Debug, Clone, Default)]
pub struct StaticEnvironment {
    /// Environment variables.
    pub vars: HashMap<String, String>,
    /// Paths that [`Environment::path_exists`] reports as existing.
    pub existing_paths: HashSet<PathBuf>,
    /// What [`Environment::os_user_name`] returns.
    pub os_user: Option<String>,
}

impl StaticEnvironment {
    /// Builds an environment from `(name, value)` pairs.
    pub fn from_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        StaticEnvironment {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..StaticEnvironment::default()
        }
    }
}

impl Environment for StaticEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn path_exists(&self, path: &Path) -> bool {
        self.existing_paths.contains(path)
    }

    fn os_user_name(&self) -> Option<String> {
        self.os_user.clone()
    }
}

// ---------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------

/// libpq's `sslmode`. pgadvise implements all six, unlike tokio-postgres'
/// own parser which only knows disable/prefer/require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Treated like `Prefer` (TLS is attempted first); libpq would try
    /// plaintext first, but the difference only matters to servers that
    /// reject both, and encrypting when possible is the safer default.
    Allow,
    /// Use TLS if the server offers it, without verifying the certificate.
    Prefer,
    /// Require TLS; verify the chain only if a root certificate file exists.
    Require,
    /// Require TLS and verify the certificate chain, not the host name.
    VerifyCa,
    /// Require TLS and verify both the chain and the host name.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq's `target_session_attrs`, limited to what tokio-postgres can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server will do.
    #[default]
    Any,
    /// Only a server that accepts writes (a primary).
    ReadWrite,
    /// Only a read-only server.
    ReadOnly,
}

/// libpq's `channel_binding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBinding {
    /// Never use SCRAM channel binding.
    Disable,
    /// Use channel binding when the server and TLS connection support it.
    #[default]
    Prefer,
    /// Fail unless channel binding is used.
    Require,
}

/// Where the server's certificate chain is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// `sslrootcert=system`: the public web PKI roots (bundled Mozilla set).
    System,
    /// A PEM file with one or more CA certificates.
    File(PathBuf),
}

/// One network endpoint: either a TCP host or a Unix socket directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address.
    Tcp(String),
    /// The directory holding the `.s.PGSQL.<port>` socket.
    Unix(PathBuf),
}

/// A password that refuses to be printed.
#[derive(Clone, PartialEq, Eq)]
struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Where a password came from, so authentication errors can say which knob to turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password was found.
    None,
    /// From the connection string or URL.
    ConnectionString,
    /// From `PGPASSWORD`.
    EnvironmentVariable,
    /// Set by the program (e.g. after prompting).
    Program,
    /// From the password file at this path.
    PasswordFile(PathBuf),
}

/// One server to try, in order. libpq allows several (`host=a,b`), trying
/// each until one accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect, and the name TLS verifies against.
    pub host: Host,
    /// `hostaddr`: the IP to connect to without a DNS lookup; `host` is then
    /// only used for TLS verification and the password file.
    pub hostaddr: Option<IpAddr>,
    /// TCP port, or the socket file suffix for Unix sockets.
    pub port: u16,
    password_from_file: Option<(Password, PathBuf)>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field(
                "password_from_file",
                &self.password_from_file.as_ref().map(|(_, path)| path),
            )
            .finish()
    }
}

impl Target {
    /// `host:port` as people write it: `[::1]:5432`, `/var/run/postgresql:5432`.
    pub fn display_address(&self) -> String {
        let host = match (&self.host, self.hostaddr) {
            (Host::Tcp(name), _) if name.contains(':') => format!("[{name}]"),
            (Host::Tcp(name), _) => name.clone(),
            (Host::Unix(dir), _) => dir.display().to_string(),
        };
        format!("{host}:{}", self.port)
    }

    /// The socket path for a Unix-socket target.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match &self.host {
            Host::Unix(dir) => Some(dir.join(format!(".s.PGSQL.{}", self.port))),
            Host::Tcp(_) => None,
        }
    }
}

/// The fully resolved connection target: every parameter pgadvise needs,
/// after applying the string, the `PG*` environment, defaults and the
/// password file, in libpq's order.
#[derive(Clone)]
pub struct ConnectionSpec {
    /// Servers to try, in order.
    pub targets: Vec<Target>,
    /// Role to log in as.
    pub user: String,
    /// Database to connect to.
    pub dbname: String,
    password: Option<Password>,
    password_source: PasswordSource,
    /// TLS policy.
    pub sslmode: SslMode,
    /// Root certificate(s) for verification; defaults to `~/.postgresql/root.crt`.
    pub sslrootcert: Option<RootCert>,
    /// Client certificate (PEM); defaults to `~/.postgresql/postgresql.crt` if it exists.
    pub sslcert: Option<PathBuf>,
    /// Client private key (PEM); defaults to `~/.postgresql/postgresql.key` if it exists.
    pub sslkey: Option<PathBuf>,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
    /// Per-host connection time limit; `None` waits forever (`connect_timeout=0`).
    pub connect_timeout: Option<Duration>,
    /// Server options sent at startup (`-c name=value ...`).
    pub options: Option<String>,
    /// Which kind of server is acceptable.
    pub target_session_attrs: TargetSessionAttrs,
    /// SCRAM channel binding policy.
    pub channel_binding: ChannelBinding,
    /// Things the user should know but that did not stop resolution
    /// (e.g. an ignored password file). Returned, not printed.
    pub warnings: Vec<String>,
}

impl fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSpec")
            .field("targets", &self.targets)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password)
            .field("password_source", &self.password_source)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("sslcert", &self.sslcert)
            .field("sslkey", &self.sslkey)
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("channel_binding", &self.channel_binding)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl fmt::Display for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_target())
    }
}

impl ConnectionSpec {
    /// Resolves the target from the process environment; see [`resolve`].
    pub fn from_env(explicit: Option<&str>) -> Result<ConnectionSpec, ConnInfoError> {
        resolve(explicit, &SystemEnvironment)
    }

    /// `user@host:port/dbname` (several hosts joined by commas) for messages
    /// and reports. Never contains the password.
    pub fn display_target(&self) -> String {
        let addresses: Vec<String> = self.targets.iter().map(Target::display_address).collect();
        format!("{}@{}/{}", self.user, addresses.join(","), self.dbname)
    }

    /// Like [`display_target`](Self::display_target) but for one of the targets.
    pub fn display_single_target(&self, target: &Target) -> String {
        format!("{}@{}/{}", self.user, target.display_address(), self.dbname)
    }

    /// Removes passwords from a raw connection string or URL so it can be
    /// quoted in messages. Works on malformed input too, erring on the side
    /// of hiding more.
    pub fn redact(input: &str) -> String {
        redact(input)
    }

    /// The password to send to `target`: the explicit one, else the
    /// password-file entry matching that host.
    pub fn password_for<'a>(&'a self, target: &'a Target) -> Option<&'a str> {
        match &self.password {
            Some(password) => Some(&password.0),
            None => target
                .password_from_file
                .as_ref()
                .map(|(password, _)| password.0.as_str()),
        }
    }

    /// Where [`password_for`](Self::password_for) gets its answer from.
    pub fn password_source_for(&self, target: &Target) -> PasswordSource {
        match (&self.password, &target.password_from_file) {
            (Some(_), _) => self.password_source.clone(),
            (None, Some((_, path))) => PasswordSource::PasswordFile(path.clone()),
            (None, None) => PasswordSource::None,
        }
    }

    /// Whether any password (explicit or from the password file) is available.
    pub fn has_password(&self) -> bool {
        self.password.is_some() || self.targets.iter().any(|t| t.password_from_file.is_some())
    }

    /// Sets the password explicitly (e.g. after prompting), overriding
    /// everything else.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = Some(Password(password.into()));
        self.password_source = PasswordSource::Program;
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a connection string or environment could not be turned into a spec.
/// No variant ever contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnInfoError {
    /// The URL form is malformed; `url` is already redacted.
    #[error("invalid connection URL \"{url}\": {reason}")]
    InvalidUrl {
        /// The input with passwords removed.
        url: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The `key=value` form is malformed.
    #[error("invalid connection string: {reason}")]
    Syntax {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A key libpq does not know either.
    #[error("unknown connection parameter \"{key}\"{}", origin_suffix(.origin))]
    UnknownParameter {
        /// The offending key.
        key: String,
        /// Where it came from (e.g. "connection URL").
        origin: String,
    },
    /// A libpq key pgadvise cannot honour, where silently ignoring it would
    /// change security or the target.
    #[error("connection parameter \"{key}\" is valid for libpq but not supported by pgadvise; remove it from the connection string")]
    UnsupportedParameter {
        /// The offending key.
        key: String,
    },
    /// A port that is not a number from 1 to 65535.
    #[error("invalid port \"{value}\" (from {origin}): expected a number from 1 to 65535")]
    InvalidPort {
        /// The offending value.
        value: String,
        /// Where it came from.
        origin: String,
    },
    /// An sslmode libpq does not define.
    #[error("invalid sslmode \"{value}\" (from {origin}): expected one of disable, allow, prefer, require, verify-ca, verify-full")]
    InvalidSslMode {
        /// The offending value.
        value: String,
        /// Where it came from.
        origin: String,
    },
    /// Any other parameter with a value outside its domain.
    #[error("invalid {key} \"{value}\" (from {origin}): {expected}")]
    InvalidValue {
        /// The parameter.
        key: String,
        /// The offending value.
        value: String,
        /// Where it came from.
        origin: String,
        /// What would be accepted.
        expected: String,
    },
    /// Several hosts but a different number of ports (or hostaddrs).
    #[error("{hosts} hosts but {others} {what} given: give one {what_single} for all hosts or one per host")]
    CountMismatch {
        /// Number of hosts.
        hosts: usize,
        /// Number of ports/hostaddrs.
        others: usize,
        /// "ports" or "hostaddrs".
        what: &'static str,
        /// "port" or "hostaddr".
        what_single: &'static str,
    },
    /// No user name anywhere.
    #[error("could not determine the database user: set user= in the connection string or PGUSER")]
    NoUser,
}

fn origin_suffix(origin: &str) -> String {
    if origin.is_empty() {
        String::new()
    } else {
        format!(" in {origin}")
    }
}

// ---------------------------------------------------------------------------
// Parameter keys
// ---------------------------------------------------------------------------

/// The libpq keywords pgadvise understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Param {
    Host,
    HostAddr,
    Port,
    User,
    Password,
    DbName,
    SslMode,
    SslRootCert,
    SslCert,
    SslKey,
    ApplicationName,
    FallbackApplicationName,
    ConnectTimeout,
    Options,
    TargetSessionAttrs,
    ChannelBinding,
    PassFile,
}

/// Keyword, key and the libpq environment variable that supplies it.
const PARAMS: &[(&str, Param, Option<&str>)] = &[
    ("host", Param::Host, Some("PGHOST")),
    ("hostaddr", Param::HostAddr, Some("PGHOSTADDR")),
    ("port", Param::Port, Some("PGPORT")),
    ("user", Param::User, Some("PGUSER")),
    ("password", Param::Password, Some("PGPASSWORD")),
    ("dbname", Param::DbName, Some("PGDATABASE")),
    ("sslmode", Param::SslMode, Some("PGSSLMODE")),
    ("sslrootcert", Param::SslRootCert, Some("PGSSLROOTCERT")),
    ("sslcert", Param::SslCert, Some("PGSSLCERT")),
    ("sslkey", Param::SslKey, Some("PGSSLKEY")),
    (
        "application_name",
        Param::ApplicationName,
        Some("PGAPPNAME"),
    ),
    (
        "fallback_application_name",
        Param::FallbackApplicationName,
        None,
    ),
    (
        "connect_timeout",
        Param::ConnectTimeout,
        Some("PGCONNECT_TIMEOUT"),
    ),
    ("options", Param::Options, Some("PGOPTIONS")),
    (
        "target_session_attrs",
        Param::TargetSessionAttrs,
        Some("PGTARGETSESSIONATTRS"),
    ),
    (
        "channel_binding",
        Param::ChannelBinding,
        Some("PGCHANNELBINDING"),
    ),
    ("passfile", Param::PassFile, Some("PGPASSFILE")),
];

/// libpq keywords that only tune transport details; ignoring them (with a
/// warning) is harmless, and rejecting them would break strings copied from
/// application configs.
const IGNORABLE_LIBPQ_KEYS: &[&str] = &[
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslcompression",
    "sslsni",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "client_encoding",
    "load_balance_hosts",
];

/// libpq keywords whose effect pgadvise cannot reproduce and that matter for
/// security or for which server is reached: refuse rather than ignore.
const UNSUPPORTED_LIBPQ_KEYS: &[&str] = &[
    "service",
    "requiressl",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslkeylogfile",
    "requirepeer",
    "require_auth",
    "replication",
];

fn key_by_name(name: &str) -> Option<Param> {
    PARAMS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, k, _)| *k)
}

fn key_name(key: Param) -> &'static str {
    PARAMS
        .iter()
        .find(|(_, k, _)| *k == key)
        .map_or("?", |(n, _, _)| *n)
}

/// Parameters as written by the user, before defaults. Later settings of the
/// same key override earlier ones, as in libpq.
#[derive(Default, Clone, PartialEq, Eq)]
struct RawParams {
    values: BTreeMap<Param, String>,
    warnings: Vec<String>,
}

impl fmt::Debug for RawParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .values
            .iter()
            .map(|(k, v)| {
                let v = if *k == Param::Password { REDACTED } else { v };
                (key_name(*k), v)
            })
            .collect();
        f.debug_struct("RawParams")
            .field("values", &shown)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl RawParams {
    /// Records `key=value`, rejecting keys pgadvise does not know.
    fn set(&mut self, name: &str, value: String, origin: &str) -> Result<(), ConnInfoError> {
        if let Some(key) = key_by_name(name) {
            self.values.insert(key, value);
            Ok(())
        } else if IGNORABLE_LIBPQ_KEYS.contains(&name) {
            self.warnings.push(format!(
                "ignoring connection parameter \"{name}\": pgadvise does not support it"
            ));
            Ok(())
        } else if UNSUPPORTED_LIBPQ_KEYS.contains(&name) {
            Err(ConnInfoError::UnsupportedParameter {
                key: name.to_owned(),
            })
        } else {
            Err(ConnInfoError::UnknownParameter {
                key: name.to_owned(),
                origin: origin.to_owned(),
            })
        }
    }

    /// A non-empty value; libpq treats empty values as "use the default".
    fn get(&self, key: Param) -> Option<&str> {
        self.values
            .get(&key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Parses either string form libpq accepts. A string that is neither a URL
/// nor contains `=` is a database name (as in `psql mydb`).
fn parse_conninfo(input: &str) -> Result<RawParams, ConnInfoError> {
    let trimmed = input.trim();
    if url_remainder(trimmed).is_some() {
        parse_url(trimmed)
    } else if trimmed.contains('=') {
        parse_keyword_value(trimmed)
    } else {
        let mut params = RawParams::default();
        if !trimmed.is_empty() {
            params.values.insert(Param::DbName, trimmed.to_owned());
        }
        Ok(params)
    }
}

/// The part after `postgresql://` or `postgres://`, if `input` is a URL.
fn url_remainder(input: &str) -> Option<&str> {
    ["postgresql://", "postgres://"].iter().find_map(|scheme| {
        let head = input.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &input[scheme.len()..])
    })
}

/// Why percent-decoding failed; the caller words the message, since only it
/// knows whether the component may be quoted.
#[derive(Debug, PartialEq, Eq)]
enum PercentError {
    BadEscape,
    Nul,
    NotUtf8,
}

impl PercentError {
    fn describe(&self, component: &str) -> String {
        match self {
            PercentError::BadEscape => {
                format!("bad percent-encoding in the {component} (a % must be followed by two hex digits; write a literal % as %25)")
            }
            PercentError::Nul => format!("the {component} contains %00, which is not allowed"),
            PercentError::NotUtf8 => {
                format!("the {component} is not valid UTF-8 after percent-decoding")
            }
        }
    }
}

/// Decodes `%XX` escapes (only those: libpq does not treat `+` as a space).
fn percent_decode(input: &str) -> Result<String, PercentError> {
    check_escapes(input)?;
    percent_encoding::percent_decode_str(input)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| PercentError::NotUtf8)
}

/// Rejects what libpq rejects and the decoder would pass through or accept:
/// a `%` without two hex digits after it, and `%00`. The first offending
/// escape decides the error.
fn check_escapes(input: &str) -> Result<(), PercentError> {
    let bytes = input.as_bytes();
    for (at, _) in input.match_indices('%') {
        match bytes.get(at + 1..at + 3) {
            Some(b"00") => return Err(PercentError::Nul),
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {}
            _ => return Err(PercentError::BadEscape),
        }
    }
    Ok(())
}

fn parse_port_number(value: &str) -> Option<u16> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u16>().ok().filter(|port| *port != 0)
}

/// Parses `postgresql://[user[:password]@][host][:port][,...][/dbname][?k=v&...]`.
fn parse_url(input: &str) -> Result<RawParams, ConnInfoError> {
    let url_error = |reason: String| ConnInfoError::InvalidUrl {
        url: redact(input),
        reason,
    };
    let rest = url_remainder(input).unwrap_or_default();
    let mut params = RawParams::default();

    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };

    // libpq: the user info ends at the first '@' that comes before any '/'.
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (userinfo, after_userinfo) = match before_query[..authority_end].find('@') {
        Some(at) => (Some(&before_query[..at]), &before_query[at + 1..]),
        None => (None, before_query),
    };

    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        let user = percent_decode(user).map_err(|e| url_error(e.describe("user name")))?;
        if !user.is_empty() {
            params.values.insert(Param::User, user);
        }
        if let Some(password) = password {
            let password =
                percent_decode(password).map_err(|e| url_error(e.describe("password")))?;
            params.values.insert(Param::Password, password);
        }
    }

    let (hostspecs, path) = match after_userinfo.split_once('/') {
        Some((hosts, path)) => (hosts, Some(path)),
        None => (after_userinfo, None),
    };

    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for spec in hostspecs.split(',') {
        let (host, port) = split_url_hostspec(spec).map_err(url_error)?;
        let host = percent_decode(host).map_err(|e| url_error(e.describe("host")))?;
        if host.contains('@') {
            return Err(url_error(
                "'@' in the host part; if the user name or password contains '@', '/', ':' or '?', percent-encode it (e.g. '@' as %40)".to_owned(),
            ));
        }
        if !port.is_empty() && parse_port_number(port).is_none() {
            return Err(url_error(
                "invalid port number (expected 1-65535); if the password contains '/', ':', '@' or '?', percent-encode it".to_owned(),
            ));
        }
        hosts.push(host);
        ports.push(port.to_owned());
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        params.values.insert(Param::Host, hosts.join(","));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        params.values.insert(Param::Port, ports.join(","));
    }

    if let Some(path) = path {
        let dbname = percent_decode(path).map_err(|e| url_error(e.describe("database name")))?;
        if !dbname.is_empty() {
            params.values.insert(Param::DbName, dbname);
        }
    }

    if let Some(query) = query {
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(url_error(format!(
                    "query parameter \"{}\" has no '=value'",
                    redact_param_name(pair)
                )));
            };
            let name =
                percent_decode(name).map_err(|e| url_error(e.describe("query parameter name")))?;
            let value = percent_decode(value)
                .map_err(|e| url_error(e.describe(&format!("value of \"{name}\""))))?;
            // JDBC-style `ssl=true`, which libpq also accepts.
            if name == "ssl" {
                if value == "true" {
                    params.values.insert(Param::SslMode, "require".to_owned());
                    continue;
                }
                return Err(url_error(format!(
                    "unsupported value for \"ssl\": only \"true\" is accepted, got \"{value}\""
                )));
            }
            params.set(&name, value, "connection URL")?;
        }
    }
    Ok(params)
}

/// A query "parameter" without '=' could be a password fragment; only echo
/// it if it looks like a plain keyword.
fn redact_param_name(text: &str) -> &str {
    if text.len() <= 40 && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        text
    } else {
        REDACTED
    }
}

/// Splits one `host[:port]` or `[v6addr][:port]` entry, still percent-encoded.
fn split_url_hostspec(spec: &str) -> Result<(&str, &str), String> {
    if let Some(bracketed) = spec.strip_prefix('[') {
        let Some(close) = bracketed.find(']') else {
            return Err("missing ']' after an IPv6 address".to_owned());
        };
        let host = &bracketed[..close];
        let after = &bracketed[close + 1..];
        if host.is_empty() {
            return Err("empty IPv6 address in brackets".to_owned());
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None if after.is_empty() => Ok((host, "")),
            None => Err("unexpected characters after ']' (expected ':port')".to_owned()),
        };
    }
    Ok(spec.split_once(':').unwrap_or((spec, "")))
}

/// Parses libpq's `key=value` form: whitespace-separated pairs, spaces
/// allowed around `=`, values optionally single-quoted, backslash escapes.
fn parse_keyword_value(input: &str) -> Result<RawParams, ConnInfoError> {
    let mut params = RawParams::default();
    let mut chars = input.chars().peekable();
    let mut previous_key: Option<String> = None;

    // A stray word right after a password value is probably the rest of an
    // unquoted password containing a space: don't echo it.
    let describe_word = |word: &str, previous_key: &Option<String>| -> Option<String> {
        (previous_key.as_deref() != Some("password")).then(|| word.to_owned())
    };

    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            let reason = match describe_word(&key, &previous_key) {
                Some(word) => format!("missing \"=\" after \"{word}\""),
                None => "missing \"=\" after the password value; quote values containing spaces, e.g. password='a b'".to_owned(),
            };
            return Err(ConnInfoError::Syntax { reason });
        }
        if key.is_empty() {
            return Err(ConnInfoError::Syntax {
                reason: "\"=\" without a parameter name before it".to_owned(),
            });
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}

        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    other => value.push(other),
                }
            }
            if !closed {
                return Err(ConnInfoError::Syntax {
                    reason: format!("unterminated quoted value for \"{key}\""),
                });
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }

        if key_by_name(&key).is_none()
            && !IGNORABLE_LIBPQ_KEYS.contains(&key.as_str())
            && !UNSUPPORTED_LIBPQ_KEYS.contains(&key.as_str())
            && describe_word(&key, &previous_key).is_none()
        {
            return Err(ConnInfoError::Syntax {
                reason: "unknown parameter after the password value; quote values containing spaces, e.g. password='a b'".to_owned(),
            });
        }
        params.set(&key, value, "connection string")?;
        previous_key = Some(key);
    }
    Ok(params)
}

// ---------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------

/// Removes passwords from a raw user string; see [`ConnectionSpec::redact`].
pub fn redact(input: &str) -> String {
    if let Some(rest) = url_remainder(input.trim_start()) {
        let offset = input.len() - rest.len();
        redact_url(&input[..offset], rest)
    } else {
        redact_keyword_value(input)
    }
}

/// Hides the user-info password and any `password=` query parameter. The
/// user info is taken to end at the *last* '@' so that an unencoded '@',
/// '/' or '?' inside a password is still hidden.
fn redact_url(scheme: &str, rest: &str) -> String {
    let mut out = String::from(scheme);
    let after_userinfo = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    match after_userinfo.split_once('?') {
        Some((before, query)) => {
            out.push_str(before);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if percent_decode(name).is_ok_and(|n| n == "password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(after_userinfo),
    }
    out
}

/// Replaces the value of every `password=` in a `key=value` string, quoted
/// or not; an unterminated quote hides everything after it.
fn redact_keyword_value(input: &str) -> String {
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < chars.len() {
        // Copy leading whitespace.
        while i < chars.len() && chars[i].is_whitespace() {
            out.push(chars[i]);
            i += 1;
        }
        let key_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        out.push_str(&key);
        while i < chars.len() && chars[i].is_whitespace() {
            out.push(chars[i]);
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            continue;
        }
        out.push('=');
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            out.push(chars[i]);
            i += 1;
        }
        let value_start = i;
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = i.min(chars.len());
        }
        if key == "password" {
            out.push_str(REDACTED);
        } else {
            out.extend(&chars[value_start..i]);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------

/// Resolves a connection target the way libpq does.
///
/// `explicit` is the CLI argument or `--database-url`; when `None`,
/// `DATABASE_URL` is used instead. Parameters from that string win; the
/// libpq `PG*` variables fill what is missing; then defaults apply (socket
/// directory or localhost, port 5432, OS user, dbname = user, sslmode
/// prefer, application_name pgadvise, connect_timeout 10 s). If no password
/// was given, the password file is consulted per host.
pub fn resolve(
    explicit: Option<&str>,
    env: &dyn Environment,
) -> Result<ConnectionSpec, ConnInfoError> {
    let string = match explicit {
        Some(s) => Some(s.to_owned()),
        None => env.var("DATABASE_URL").filter(|s| !s.trim().is_empty()),
    };
    let mut raw = match &string {
        Some(s) => parse_conninfo(s)?,
        None => RawParams::default(),
    };

    // Where each value came from, for error messages.
    let mut origins: HashMap<Param, String> = HashMap::new();
    for (_, key, env_name) in PARAMS {
        if raw.get(*key).is_some() {
            origins.insert(*key, "connection string".to_owned());
            continue;
        }
        if let Some(env_name) = env_name {
            if let Some(value) = env.var(env_name).filter(|v| !v.is_empty()) {
                raw.values.insert(*key, value);
                origins.insert(*key, (*env_name).to_owned());
            }
        }
    }
    let origin = |key: Param| origins.get(&key).cloned().unwrap_or_default();
    let mut warnings = std::mem::take(&mut raw.warnings);

    let home = env.var("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);

    let user = match raw.get(Param::User) {
        Some(user) => user.to_owned(),
        None => ["USER", "LOGNAME"]
            .iter()
            .find_map(|name| env.var(name).filter(|v| !v.is_empty()))
            .or_else(|| env.os_user_name())
            .ok_or(ConnInfoError::NoUser)?,
    };
    let dbname = raw.get(Param::DbName).unwrap_or(&user).to_owned();

    let ports = parse_ports(raw.get(Param::Port), &origin(Param::Port))?;
    let hostaddrs = parse_hostaddrs(raw.get(Param::HostAddr), &origin(Param::HostAddr))?;
    let default_port = ports.first().copied().flatten().unwrap_or(DEFAULT_PORT);
    let targets = build_targets(raw.get(Param::Host), &hostaddrs, &ports, env, default_port)?;

    let postgresql_dir = home.as_ref().map(|home| home.join(".postgresql"));
    let sslrootcert = match raw.get(Param::SslRootCert) {
        Some("system") => Some(RootCert::System),
        Some(path) => Some(RootCert::File(PathBuf::from(path))),
        None => postgresql_dir
            .as_ref()
            .map(|dir| RootCert::File(dir.join("root.crt"))),
    };

    // libpq 16+: trusting the whole public PKI only makes sense with host
    // name checks, so `system` implies verify-full and refuses weaker modes.
    let sslmode = match raw.get(Param::SslMode) {
        None if sslrootcert == Some(RootCert::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
        Some(value) => value.parse().map_err(|()| ConnInfoError::InvalidSslMode {
            value: value.to_owned(),
            origin: origin(Param::SslMode),
        })?,
    };
    if sslrootcert == Some(RootCert::System) && sslmode != SslMode::VerifyFull {
        return Err(ConnInfoError::InvalidValue {
            key: "sslmode".to_owned(),
            value: sslmode.to_string(),
            origin: origin(Param::SslMode),
            expected: "sslrootcert=system requires sslmode=verify-full".to_owned(),
        });
    }
    // libpq uses the default client certificate only if it exists.
    let default_if_exists = |name: &str| {
        postgresql_dir
            .as_ref()
            .map(|dir| dir.join(name))
            .filter(|path| env.path_exists(path))
    };
    let sslcert = raw
        .get(Param::SslCert)
        .map(PathBuf::from)
        .or_else(|| default_if_exists("postgresql.crt"));
    let sslkey = raw
        .get(Param::SslKey)
        .map(PathBuf::from)
        .or_else(|| default_if_exists("postgresql.key"));

    let application_name = raw
        .get(Param::ApplicationName)
        .or_else(|| raw.get(Param::FallbackApplicationName))
        .unwrap_or(DEFAULT_APPLICATION_NAME)
        .to_owned();

    let connect_timeout = match raw.get(Param::ConnectTimeout) {
        None => Some(DEFAULT_CONNECT_TIMEOUT),
        Some(value) => parse_connect_timeout(value, &origin(Param::ConnectTimeout))?,
    };

    let target_session_attrs = match raw.get(Param::TargetSessionAttrs) {
        None | Some("any") => TargetSessionAttrs::Any,
        Some("read-write") => TargetSessionAttrs::ReadWrite,
        Some("read-only") => TargetSessionAttrs::ReadOnly,
        Some(other) => {
            return Err(ConnInfoError::InvalidValue {
                key: "target_session_attrs".to_owned(),
                value: other.to_owned(),
                origin: origin(Param::TargetSessionAttrs),
                expected: "pgadvise supports any, read-write and read-only".to_owned(),
            })
        }
    };

    let channel_binding = match raw.get(Param::ChannelBinding) {
        None | Some("prefer") => ChannelBinding::Prefer,
        Some("disable") => ChannelBinding::Disable,
        Some("require") => ChannelBinding::Require,
        Some(other) => {
            return Err(ConnInfoError::InvalidValue {
                key: "channel_binding".to_owned(),
                value: other.to_owned(),
                origin: origin(Param::ChannelBinding),
                expected: "expected disable, prefer or require".to_owned(),
            })
        }
    };

    // Passwords are taken even when empty (an explicit empty password is a choice).
    let (password, password_source) = match raw.values.get(&Param::Password) {
        Some(password) => {
            let source = if origins.get(&Param::Password).map(String::as_str) == Some("PGPASSWORD")
            {
                PasswordSource::EnvironmentVariable
            } else {
                PasswordSource::ConnectionString
            };
            (Some(Password(password.clone())), source)
        }
        None => (None, PasswordSource::None),
    };

    let mut spec = ConnectionSpec {
        targets,
        user,
        dbname,
        password,
        password_source,
        sslmode,
        sslrootcert,
        sslcert,
        sslkey,
        application_name,
        connect_timeout,
        options: raw.get(Param::Options).map(str::to_owned),
        target_session_attrs,
        channel_binding,
        warnings: Vec::new(),
    };

    if spec.password.is_none() {
        let passfile = raw
            .get(Param::PassFile)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".pgpass")));
        if let Some(passfile) = passfile {
            apply_password_file(&mut spec, &passfile, &mut warnings);
        }
    }
    spec.warnings = warnings;
    Ok(spec)
}

/// Splits a libpq comma list (`port=5432,5433`); an empty entry means "the default".
fn parse_list<T>(
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, ConnInfoError>,
) -> Result<Vec<Option<T>>, ConnInfoError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .map(|part| (!part.is_empty()).then(|| parse(part)).transpose())
        .collect()
}

fn parse_ports(value: Option<&str>, origin: &str) -> Result<Vec<Option<u16>>, ConnInfoError> {
    parse_list(value, |part| {
        parse_port_number(part).ok_or_else(|| ConnInfoError::InvalidPort {
            value: part.to_owned(),
            origin: origin.to_owned(),
        })
    })
}

fn parse_hostaddrs(
    value: Option<&str>,
    origin: &str,
) -> Result<Vec<Option<IpAddr>>, ConnInfoError> {
    parse_list(value, |part| {
        part.parse().map_err(|_| ConnInfoError::InvalidValue {
            key: "hostaddr".to_owned(),
            value: part.to_owned(),
            origin: origin.to_owned(),
            expected: "expected an IPv4 or IPv6 address".to_owned(),
        })
    })
}

/// Pairs hosts, hostaddrs and ports like libpq: one port applies to all
/// hosts, otherwise counts must match; empty entries mean "default".
fn build_targets(
    host_list: Option<&str>,
    hostaddrs: &[Option<IpAddr>],
    ports: &[Option<u16>],
    env: &dyn Environment,
    default_port: u16,
) -> Result<Vec<Target>, ConnInfoError> {
    let hosts: Vec<&str> = host_list
        .map(|list| list.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if !hosts.is_empty() && !hostaddrs.is_empty() && hosts.len() != hostaddrs.len() {
        return Err(ConnInfoError::CountMismatch {
            hosts: hosts.len(),
            others: hostaddrs.len(),
            what: "hostaddrs",
            what_single: "hostaddr",
        });
    }
    let count = hosts.len().max(hostaddrs.len()).max(1);
    if ports.len() > 1 && ports.len() != count {
        return Err(ConnInfoError::CountMismatch {
            hosts: count,
            others: ports.len(),
            what: "ports",
            what_single: "port",
        });
    }

    (0..count)
        .map(|i| {
            let port = if ports.len() > 1 {
                ports[i].unwrap_or(DEFAULT_PORT)
            } else {
                default_port
            };
            let hostaddr = hostaddrs.get(i).copied().flatten();
            let host = match (hosts.get(i).filter(|h| !h.is_empty()), hostaddr) {
                (Some(name), _) if name.starts_with('/') => Host::Unix(PathBuf::from(name)),
                (Some(name), _) => Host::Tcp((*name).to_owned()),
                (None, Some(addr)) => Host::Tcp(addr.to_string()),
                (None, None) => default_host(env, port),
            };
            Ok(Target {
                host,
                hostaddr,
                port,
                password_from_file: None,
            })
        })
        .collect()
}

/// Debian's socket directory if it exists, else upstream's `/tmp` if a
/// server socket is there, else `localhost` over TCP.
fn default_host(env: &dyn Environment, port: u16) -> Host {
    let debian = Path::new(DEBIAN_SOCKET_DIR);
    if env.path_exists(debian) {
        return Host::Unix(debian.to_path_buf());
    }
    let upstream = Path::new(UPSTREAM_SOCKET_DIR);
    if env.path_exists(&upstream.join(format!(".s.PGSQL.{port}"))) {
        return Host::Unix(upstream.to_path_buf());
    }
    Host::Tcp("localhost".to_owned())
}

/// libpq semantics: 0 or negative waits forever, 1 is raised to 2 seconds.
fn parse_connect_timeout(value: &str, origin: &str) -> Result<Option<Duration>, ConnInfoError> {
    let seconds: i64 = value
        .trim()
        .parse()
        .map_err(|_| ConnInfoError::InvalidValue {
            key: "connect_timeout".to_owned(),
            value: value.to_owned(),
            origin: origin.to_owned(),
            expected: "expected a whole number of seconds".to_owned(),
        })?;
    Ok(match seconds {
        i64::MIN..=0 => None,
        1 => Some(Duration::from_secs(2)),
        n => Some(Duration::from_secs(n.unsigned_abs())),
    })
}

// ---------------------------------------------------------------------------
// Password file
// ---------------------------------------------------------------------------

/// One field of a password-file line: `*` or a literal.
#[derive(Debug, PartialEq, Eq)]
enum PassField {
    Any,
    Literal(String),
}

impl PassField {
    fn matches(&self, value: &str) -> bool {
        match self {
            PassField::Any => true,
            PassField::Literal(literal) => literal == value,
        }
    }
}

/// A parsed `hostname:port:database:username:password` line.
struct PassEntry {
    host: PassField,
    port: PassField,
    database: PassField,
    user: PassField,
    password: String,
}

/// Splits one password-file line, undoing `\:` and `\\`. Returns `None` for
/// comments and lines with fewer than five fields (libpq skips those). The
/// password is the rest of the line, so an unescaped ':' in it is kept.
fn parse_pgpass_line(line: &str) -> Option<PassEntry> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let mut fields: Vec<PassField> = Vec::with_capacity(4);
    let mut chars = line.chars();
    let mut current = String::new();
    let mut escaped_any = false;
    while fields.len() < 4 {
        match chars.next()? {
            '\\' => {
                // A trailing backslash is kept literally.
                current.push(chars.next().unwrap_or('\\'));
                escaped_any = true;
            }
            ':' => {
                let field = if current == "*" && !escaped_any {
                    PassField::Any
                } else {
                    PassField::Literal(std::mem::take(&mut current))
                };
                current.clear();
                escaped_any = false;
                fields.push(field);
            }
            other => current.push(other),
        }
    }
    let mut password = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            password.push(chars.next().unwrap_or('\\'));
        } else {
            password.push(c);
        }
    }
    let mut fields = fields.into_iter();
    Some(PassEntry {
        host: fields.next()?,
        port: fields.next()?,
        database: fields.next()?,
        user: fields.next()?,
        password,
    })
}

/// The first password in `content` matching the given connection values.
/// `hosts` lists the names the connection answers to (a Unix socket answers
/// to its directory and to `localhost`).
fn find_password(
    content: &str,
    hosts: &[&str],
    port: u16,
    database: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    content.lines().find_map(|line| {
        let entry = parse_pgpass_line(line)?;
        let matches = hosts.iter().any(|h| entry.host.matches(h))
            && entry.port.matches(&port)
            && entry.database.matches(database)
            && entry.user.matches(user);
        matches.then_some(entry.password)
    })
}

/// Reads the password file for every target, ignoring it (with a warning,
/// like libpq) if it is not a plain file or is group/world accessible.
fn apply_password_file(spec: &mut ConnectionSpec, path: &Path, warnings: &mut Vec<String>) {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return,
        Err(error) => {
            warnings.push(format!(
                "could not read password file \"{}\": {error}",
                path.display()
            ));
            return;
        }
    };
    if !metadata.is_file() {
        warnings.push(format!(
            "password file \"{}\" is not a plain file; ignoring it",
            path.display()
        ));
        return;
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        warnings.push(format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less; ignoring it (fix with: chmod 0600 {})",
            path.display(),
            path.display()
        ));
        return;
    }
    let content = match fs::read_to_string(path) {
        Ok(content) => content,
        Err(error) => {
            warnings.push(format!(
                "could not read password file \"{}\": {error}",
                path.display()
            ));
            return;
        }
    };
    let (dbname, user) = (spec.dbname.clone(), spec.user.clone());
    for target in &mut spec.targets {
        let socket_dir;
        let hosts: Vec<&str> = match &target.host {
            Host::Tcp(name) => vec![name.as_str()],
            Host::Unix(dir) => {
                socket_dir = dir.to_string_lossy();
                vec![socket_dir.as_ref(), "localhost"]
            }
        };
        if let Some(password) = find_password(&content, &hosts, target.port, &dbname, &user) {
            target.password_from_file = Some((Password(password), path.to_path_buf()));
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-PW";

    fn env(vars: &[(&str, &str)]) -> StaticEnvironment {
        let mut env = StaticEnvironment::from_vars(vars.iter().copied());
        env.os_user = Some("osuser".to_owned());
        env
    }

    fn resolve_with(input: Option<&str>, vars: &[(&str, &str)]) -> ConnectionSpec {
        match resolve(input, &env(vars)) {
            Ok(spec) => spec,
            Err(error) => panic!("resolve({input:?}) failed: {error}"),
        }
    }

    fn tcp(name: &str) -> Host {
        Host::Tcp(name.to_owned())
    }

    fn unix(dir: &str) -> Host {
        Host::Unix(PathBuf::from(dir))
    }

    fn hosts_ports(spec: &ConnectionSpec) -> Vec<(Host, u16)> {
        spec.targets
            .iter()
            .map(|t| (t.host.clone(), t.port))
            .collect()
    }

    #[test]
    fn parses_every_accepted_form() {
        struct Case {
            input: &'static str,
            hosts: Vec<(Host, u16)>,
            user: &'static str,
            dbname: &'static str,
            password: Option<&'static str>,
        }
        let cases = vec![
            Case {
                input: "postgresql://alice:pw@db.example.com:6543/app",
                hosts: vec![(tcp("db.example.com"), 6543)],
                user: "alice",
                dbname: "app",
                password: Some("pw"),
            },
            Case {
                input: "postgres://db.example.com/app",
                hosts: vec![(tcp("db.example.com"), 5432)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://al%40ice:p%40ss%2Fw%3Ad@h/my%20db",
                hosts: vec![(tcp("h"), 5432)],
                user: "al@ice",
                dbname: "my db",
                password: Some("p@ss/w:d"),
            },
            Case {
                input: "postgresql://[::1]:5433/app",
                hosts: vec![(tcp("::1"), 5433)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://[2001:db8::7]/app",
                hosts: vec![(tcp("2001:db8::7"), 5432)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://h1:5432,h2:5433/app",
                hosts: vec![(tcp("h1"), 5432), (tcp("h2"), 5433)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://h1,h2:5433/app",
                hosts: vec![(tcp("h1"), 5432), (tcp("h2"), 5433)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://%2Fvar%2Frun%2Fpostgresql/app",
                hosts: vec![(unix("/var/run/postgresql"), 5432)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql:///app?host=/var/run/postgresql&port=5499",
                hosts: vec![(unix("/var/run/postgresql"), 5499)],
                user: "osuser",
                dbname: "app",
                password: None,
            },
            Case {
                input: "postgresql://u@h/app?user=bob&password=q%26x&application_name=x%20y",
                hosts: vec![(tcp("h"), 5432)],
                user: "bob",
                dbname: "app",
                password: Some("q&x"),
            },
            Case {
                input: "POSTGRESQL://h",
                hosts: vec![(tcp("h"), 5432)],
                user: "osuser",
                dbname: "osuser",
                password: None,
            },
            Case {
                input: "host=localhost port=5432 dbname='my db' password='it\\'s'",
                hosts: vec![(tcp("localhost"), 5432)],
                user: "osuser",
                dbname: "my db",
                password: Some("it's"),
            },
            Case {
                input: "  host = h1,h2  port = 5432,5433 user=bob password=a\\ b  ",
                hosts: vec![(tcp("h1"), 5432), (tcp("h2"), 5433)],
                user: "bob",
                dbname: "bob",
                password: Some("a b"),
            },
            Case {
                input: "host=/tmp port=6000 dbname=x password='back\\\\slash'",
                hosts: vec![(unix("/tmp"), 6000)],
                user: "osuser",
                dbname: "x",
                password: Some("back\\slash"),
            },
            Case {
                input: "host=h password=",
                hosts: vec![(tcp("h"), 5432)],
                user: "osuser",
                dbname: "osuser",
                password: Some(""),
            },
            Case {
                input: "mydb",
                hosts: vec![(tcp("localhost"), 5432)],
                user: "osuser",
                dbname: "mydb",
                password: None,
            },
            Case {
                input: "",
                hosts: vec![(tcp("localhost"), 5432)],
                user: "osuser",
                dbname: "osuser",
                password: None,
            },
        ];
        for case in cases {
            let spec = resolve_with(Some(case.input), &[]);
            assert_eq!(hosts_ports(&spec), case.hosts, "hosts for {:?}", case.input);
            assert_eq!(spec.user, case.user, "user for {:?}", case.input);
            assert_eq!(spec.dbname, case.dbname, "dbname for {:?}", case.input);
            let password = spec.targets.first().and_then(|t| spec.password_for(t));
            assert_eq!(password, case.password, "password for {:?}", case.input);
        }
    }

    #[test]
    fn parses_tls_and_session_parameters() {
        let spec = resolve_with(
            Some("host=h sslmode=verify-full sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem application_name=nightly connect_timeout=3 options='-c statement_timeout=5s' target_session_attrs=read-write channel_binding=require hostaddr=10.0.0.1"),
            &[],
        );
        assert_eq!(spec.sslmode, SslMode::VerifyFull);
        assert_eq!(spec.sslrootcert, Some(RootCert::File("/ca.pem".into())));
        assert_eq!(spec.sslcert, Some(PathBuf::from("/c.pem")));
        assert_eq!(spec.sslkey, Some(PathBuf::from("/k.pem")));
        assert_eq!(spec.application_name, "nightly");
        assert_eq!(spec.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(spec.options.as_deref(), Some("-c statement_timeout=5s"));
        assert_eq!(spec.target_session_attrs, TargetSessionAttrs::ReadWrite);
        assert_eq!(spec.channel_binding, ChannelBinding::Require);
        assert_eq!(spec.targets[0].hostaddr, Some("10.0.0.1".parse().unwrap()));

        let spec = resolve_with(Some("postgres://h/?sslrootcert=system"), &[]);
        assert_eq!(spec.sslrootcert, Some(RootCert::System));
        assert_eq!(spec.sslmode, SslMode::VerifyFull);
        let spec = resolve_with(Some("postgres://h/?ssl=true"), &[]);
        assert_eq!(spec.sslmode, SslMode::Require);
        assert!(resolve(Some("sslrootcert=system sslmode=require"), &env(&[])).is_err());

        for (mode, expected) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let spec = resolve_with(Some(&format!("sslmode={mode}")), &[]);
            assert_eq!(spec.sslmode, expected);
            assert_eq!(spec.sslmode.to_string(), mode);
        }
    }

    #[test]
    fn connect_timeout_follows_libpq() {
        for (value, expected) in [
            ("0", None),
            ("-5", None),
            ("1", Some(Duration::from_secs(2))),
            ("30", Some(Duration::from_secs(30))),
        ] {
            let spec = resolve_with(Some(&format!("connect_timeout={value}")), &[]);
            assert_eq!(spec.connect_timeout, expected, "connect_timeout={value}");
        }
        assert_eq!(
            resolve_with(None, &[]).connect_timeout,
            Some(DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn rejects_bad_input_with_clear_errors() {
        let cases: Vec<(&str, ConnInfoError)> = vec![
            (
                "host=h colour=blue",
                ConnInfoError::UnknownParameter {
                    key: "colour".into(),
                    origin: "connection string".into(),
                },
            ),
            (
                "postgres://h/db?colour=blue",
                ConnInfoError::UnknownParameter {
                    key: "colour".into(),
                    origin: "connection URL".into(),
                },
            ),
            (
                "host=h service=prod",
                ConnInfoError::UnsupportedParameter {
                    key: "service".into(),
                },
            ),
            (
                "host=h port=abc",
                ConnInfoError::InvalidPort {
                    value: "abc".into(),
                    origin: "connection string".into(),
                },
            ),
            (
                "host=h port=70000",
                ConnInfoError::InvalidPort {
                    value: "70000".into(),
                    origin: "connection string".into(),
                },
            ),
            (
                "host=h sslmode=on",
                ConnInfoError::InvalidSslMode {
                    value: "on".into(),
                    origin: "connection string".into(),
                },
            ),
            (
                "host=a,b,c port=1,2",
                ConnInfoError::CountMismatch {
                    hosts: 3,
                    others: 2,
                    what: "ports",
                    what_single: "port",
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                resolve(Some(input), &env(&[])).err(),
                Some(expected),
                "{input}"
            );
        }

        let syntax_errors = [
            "host=h dbname",
            "host=h dbname='unterminated",
            "=value",
            "postgresql://h:port/db",
            "postgresql://h/db?sslmode",
            "postgresql://[::1/db",
            "postgresql://h/db%zz",
            "postgresql://h/db%00",
            "postgresql://h/db?ssl=false",
            "postgresql://h/db?target_session_attrs=primary",
            "host=h connect_timeout=soon",
            "host=h hostaddr=not-an-ip",
        ];
        for input in syntax_errors {
            assert!(
                resolve(Some(input), &env(&[])).is_err(),
                "{input} should fail"
            );
        }

        let message = resolve(Some("postgresql://h:99999/db"), &env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("invalid port"), "{message}");
        let message = resolve(Some("host=h sslmode=verify"), &env(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("\"verify\"") && message.contains("verify-full"),
            "{message}"
        );
    }

    #[test]
    fn ignorable_libpq_keys_become_warnings() {
        let spec = resolve_with(Some("host=h keepalives=1 gssencmode=disable"), &[]);
        assert_eq!(spec.warnings.len(), 2, "{:?}", spec.warnings);
        assert!(spec.warnings[0].contains("keepalives"));
    }

    #[test]
    fn explicit_beats_environment_beats_defaults() {
        let vars = [
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGDATABASE", "envdb"),
            ("PGPASSWORD", SECRET),
            ("PGSSLMODE", "require"),
            ("PGAPPNAME", "envapp"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGOPTIONS", "-c work_mem=1MB"),
            ("PGSSLROOTCERT", "/env/root.crt"),
            ("PGSSLCERT", "/env/c.crt"),
            ("PGSSLKEY", "/env/c.key"),
            ("PGHOSTADDR", "192.0.2.1"),
            ("DATABASE_URL", "postgres://urlhost/urldb"),
        ];
        // Environment only (explicit string absent, so DATABASE_URL is used).
        let spec = resolve_with(None, &vars);
        assert_eq!(hosts_ports(&spec), vec![(tcp("urlhost"), 6000)]);
        assert_eq!(spec.dbname, "urldb");
        assert_eq!(spec.user, "envuser");
        assert_eq!(spec.sslmode, SslMode::Require);
        assert_eq!(spec.application_name, "envapp");
        assert_eq!(spec.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(spec.options.as_deref(), Some("-c work_mem=1MB"));
        assert_eq!(
            spec.sslrootcert,
            Some(RootCert::File("/env/root.crt".into()))
        );
        assert_eq!(spec.sslcert, Some(PathBuf::from("/env/c.crt")));
        assert_eq!(spec.sslkey, Some(PathBuf::from("/env/c.key")));
        assert_eq!(spec.targets[0].hostaddr, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(spec.password_for(&spec.targets[0]), Some(SECRET));
        assert_eq!(
            spec.password_source_for(&spec.targets[0]),
            PasswordSource::EnvironmentVariable
        );

        // Explicit string wins over DATABASE_URL and PG*.
        let spec = resolve_with(
            Some("host=cli port=7000 user=cliuser dbname=clidb password=clipw sslmode=disable"),
            &vars,
        );
        assert_eq!(hosts_ports(&spec), vec![(tcp("cli"), 7000)]);
        assert_eq!(
            (spec.user.as_str(), spec.dbname.as_str()),
            ("cliuser", "clidb")
        );
        assert_eq!(spec.sslmode, SslMode::Disable);
        assert_eq!(spec.password_for(&spec.targets[0]), Some("clipw"));
        assert_eq!(
            spec.password_source_for(&spec.targets[0]),
            PasswordSource::ConnectionString
        );

        // Only PG* variables.
        let spec = resolve_with(None, &[("PGHOST", "h1,h2"), ("PGPORT", "1,2")]);
        assert_eq!(hosts_ports(&spec), vec![(tcp("h1"), 1), (tcp("h2"), 2)]);

        // Nothing at all: defaults.
        let spec = resolve_with(None, &[]);
        assert_eq!(hosts_ports(&spec), vec![(tcp("localhost"), 5432)]);
        assert_eq!(
            (spec.user.as_str(), spec.dbname.as_str()),
            ("osuser", "osuser")
        );
        assert_eq!(spec.sslmode, SslMode::Prefer);
        assert_eq!(spec.application_name, DEFAULT_APPLICATION_NAME);
        assert_eq!(spec.sslrootcert, None);
        assert!(!spec.has_password());

        // USER/LOGNAME beat the passwd lookup; HOME drives the default files.
        let spec = resolve_with(None, &[("LOGNAME", "logname"), ("HOME", "/home/x")]);
        assert_eq!(spec.user, "logname");
        assert_eq!(
            spec.sslrootcert,
            Some(RootCert::File("/home/x/.postgresql/root.crt".into()))
        );
        assert_eq!(spec.sslcert, None, "default client cert only if it exists");

        // No user anywhere.
        let empty = StaticEnvironment::default();
        assert_eq!(resolve(None, &empty).err(), Some(ConnInfoError::NoUser));

        // fallback_application_name loses to application_name / PGAPPNAME.
        let spec = resolve_with(Some("fallback_application_name=fb"), &[]);
        assert_eq!(spec.application_name, "fb");
        let spec = resolve_with(Some("fallback_application_name=fb"), &[("PGAPPNAME", "a")]);
        assert_eq!(spec.application_name, "a");
    }

    #[test]
    fn default_host_prefers_socket_directories() {
        let mut environment = env(&[]);
        environment
            .existing_paths
            .insert(PathBuf::from(DEBIAN_SOCKET_DIR));
        let spec = resolve(None, &environment).ok();
        assert_eq!(
            spec.map(|s| hosts_ports(&s)),
            Some(vec![(unix(DEBIAN_SOCKET_DIR), 5432)])
        );

        let mut environment = env(&[("PGPORT", "5499")]);
        environment
            .existing_paths
            .insert(PathBuf::from("/tmp/.s.PGSQL.5499"));
        let spec = resolve(None, &environment).ok();
        assert_eq!(
            spec.map(|s| hosts_ports(&s)),
            Some(vec![(unix("/tmp"), 5499)])
        );

        let mut environment = env(&[("HOME", "/h")]);
        environment
            .existing_paths
            .insert(PathBuf::from("/h/.postgresql/postgresql.crt"));
        environment
            .existing_paths
            .insert(PathBuf::from("/h/.postgresql/postgresql.key"));
        let spec = resolve(Some("host=x"), &environment).ok();
        assert_eq!(
            spec.as_ref().and_then(|s| s.sslcert.clone()),
            Some(PathBuf::from("/h/.postgresql/postgresql.crt"))
        );
        assert_eq!(
            spec.and_then(|s| s.sslkey),
            Some(PathBuf::from("/h/.postgresql/postgresql.key"))
        );
    }

    #[test]
    fn pgpass_lines_parse_with_escapes_and_wildcards() {
        let content = "\
# comment:with:colons:and:password
too:few:fields
db.example.com:5432:app:alice:first
*:*:*:bob:bob\\:pw\\\\x
h\\:weird:5432:*:*:escaped-host
db.example.com:5432:app:alice:second
*:5433:*:*:raw:colon:kept
\\*:*:*:star:literal-star
";
        let cases: Vec<(&str, u16, &str, &str, Option<&str>)> = vec![
            ("db.example.com", 5432, "app", "alice", Some("first")),
            ("db.example.com", 5432, "other", "alice", None),
            ("anything", 1, "any", "bob", Some("bob:pw\\x")),
            ("h:weird", 5432, "db", "u", Some("escaped-host")),
            ("x", 5433, "db", "u", Some("raw:colon:kept")),
            ("*", 1, "db", "star", Some("literal-star")),
            ("other", 1, "db", "star", None),
            ("comment", 0, "with", "colons", None),
        ];
        for (host, port, db, user, expected) in cases {
            assert_eq!(
                find_password(content, &[host], port, db, user).as_deref(),
                expected,
                "{host}:{port}:{db}:{user}"
            );
        }
    }

    fn write_passfile(dir: &Path, content: &str, mode: u32) -> PathBuf {
        let path = dir.join("pgpass");
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn password_file_is_used_per_host_and_respects_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let content = "localhost:5432:*:alice:socketpw\nh2:5432:app:alice:h2pw\n";
        let path = write_passfile(dir.path(), content, 0o600);
        let passfile = path.to_string_lossy().into_owned();

        // Explicit password beats the file.
        let spec = resolve_with(
            Some("host=h2 user=alice dbname=app password=explicit"),
            &[("PGPASSFILE", &passfile)],
        );
        assert_eq!(spec.password_for(&spec.targets[0]), Some("explicit"));

        // Per-host lookup; Unix sockets match "localhost".
        let spec = resolve_with(
            Some("host=/var/run/postgresql,h2,h3 user=alice dbname=app"),
            &[("PGPASSFILE", &passfile)],
        );
        let found: Vec<Option<&str>> = spec.targets.iter().map(|t| spec.password_for(t)).collect();
        assert_eq!(found, vec![Some("socketpw"), Some("h2pw"), None]);
        assert_eq!(
            spec.password_source_for(&spec.targets[1]),
            PasswordSource::PasswordFile(path.clone())
        );
        assert!(spec.warnings.is_empty());

        // passfile= keyword and ~/.pgpass via HOME.
        let spec = resolve_with(
            Some(&format!(
                "host=h2 user=alice dbname=app passfile={passfile}"
            )),
            &[],
        );
        assert_eq!(spec.password_for(&spec.targets[0]), Some("h2pw"));
        fs::rename(&path, dir.path().join(".pgpass")).unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let spec = resolve_with(Some("host=h2 user=alice dbname=app"), &[("HOME", &home)]);
        assert_eq!(spec.password_for(&spec.targets[0]), Some("h2pw"));

        // Group/world access: ignored with a warning.
        for mode in [0o640, 0o604, 0o660] {
            let path = write_passfile(dir.path(), content, mode);
            let passfile = path.to_string_lossy().into_owned();
            let spec = resolve_with(
                Some("host=h2 user=alice dbname=app"),
                &[("PGPASSFILE", &passfile)],
            );
            assert_eq!(spec.password_for(&spec.targets[0]), None, "mode {mode:o}");
            assert_eq!(spec.warnings.len(), 1, "mode {mode:o}");
            assert!(spec.warnings[0].contains("group or world access"));
            assert!(!spec.warnings[0].contains("h2pw"));
        }

        // A missing file is silently skipped.
        let spec = resolve_with(
            Some("host=h2 user=alice"),
            &[("PGPASSFILE", "/nonexistent/pgpass")],
        );
        assert!(spec.warnings.is_empty());
        assert!(!spec.has_password());
    }

    #[test]
    fn redact_removes_passwords() {
        let cases = [
            ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u@h/db", "postgresql://u@h/db"),
            (
                "postgresql://h/db?password=pw&sslmode=require",
                "postgresql://h/db?password=***&sslmode=require",
            ),
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:pa/ss?x@h/db", "postgresql://u:***@h/db"),
            (
                "host=h password=pw dbname=x",
                "host=h password=*** dbname=x",
            ),
            (
                "host=h password = 'p w\\'x' dbname=x",
                "host=h password = *** dbname=x",
            ),
            (
                "host=h password='unterminated dbname=x",
                "host=h password=***",
            ),
            ("host=h dbname=x", "host=h dbname=x"),
            ("mydb", "mydb"),
        ];
        for (input, expected) in cases {
            assert_eq!(ConnectionSpec::redact(input), expected, "{input}");
        }
    }

    #[test]
    fn passwords_never_leak_into_output() {
        let inputs = [
            format!("postgresql://u:{SECRET}@h/db"),
            format!("host=h password={SECRET}"),
            format!("host=h password='{SECRET}'"),
        ];
        for input in &inputs {
            let spec = resolve_with(Some(input), &[]);
            let debug = format!("{spec:?} {:?}", spec.targets);
            let display = format!("{spec} {}", spec.display_target());
            for text in [&debug, &display] {
                assert!(!text.contains(SECRET), "leak in {text}");
            }
            assert!(debug.contains("***"));
        }
        let spec = resolve_with(None, &[("PGPASSWORD", SECRET)]);
        assert!(!format!("{spec:?}").contains(SECRET));

        // Malformed input: errors must not echo the password or parts of it.
        let bad_inputs = [
            format!("postgresql://u:{SECRET}@h:bad/db"),
            format!("postgresql://u:{SECRET}@@h/db"),
            format!("postgresql://u:{SECRET}/x@h/db"),
            format!("postgresql://u:{SECRET}?x@h/db"),
            format!("postgresql://u:{SECRET}%zz@h/db"),
            format!("postgresql://u:{SECRET}@h/db?password={SECRET}&bad"),
            format!("postgresql://u:{SECRET}@h/db?nope={SECRET}"),
            format!("host=h password={SECRET} {SECRET}"),
            format!("host=h password=x {SECRET}=y"),
            format!("host=h password='{SECRET}"),
            format!("host=h password={SECRET} port=bad"),
            format!("host=h password={SECRET} colour=blue"),
        ];
        for input in &bad_inputs {
            match resolve(Some(input), &env(&[])) {
                Ok(spec) => panic!("{input:?} should fail, got {}", spec.display_target()),
                Err(error) => {
                    let text = format!("{error} {error:?}");
                    assert!(!text.contains(SECRET), "leak: {text}");
                    assert!(!text.contains("s3cr3t"), "partial leak: {text}");
                }
            }
        }
    }

    #[test]
    fn display_target_formats_hosts() {
        let cases = [
            (
                "postgres://postgres@db.example.com/app",
                "postgres@db.example.com:5432/app",
            ),
            ("postgres://u:pw@[::1]:5433/app", "u@[::1]:5433/app"),
            (
                "host=/var/run/postgresql user=u dbname=d",
                "u@/var/run/postgresql:5432/d",
            ),
            ("host=a,b port=1,2 user=u dbname=d", "u@a:1,b:2/d"),
        ];
        for (input, expected) in cases {
            let spec = resolve_with(Some(input), &[]);
            assert_eq!(spec.display_target(), expected);
            assert_eq!(spec.to_string(), expected);
        }
    }

    #[test]
    fn set_password_overrides_everything() {
        let mut spec = resolve_with(Some("host=h password=old"), &[]);
        spec.set_password("new");
        assert_eq!(spec.password_for(&spec.targets[0]), Some("new"));
        assert_eq!(
            spec.password_source_for(&spec.targets[0]),
            PasswordSource::Program
        );
    }

    #[test]
    fn passwd_lookup_by_uid() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_name_for_uid(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name_for_uid(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name_for_uid(passwd, 42), None);
    }

    #[test]
    fn percent_decode_matches_libpq() {
        let cases: [(&str, Result<&str, PercentError>); 10] = [
            ("plain", Ok("plain")),
            ("a%20b", Ok("a b")),
            ("a+b", Ok("a+b")),
            ("%C3%A9t%c3%a9", Ok("été")),
            ("100%25", Ok("100%")),
            ("%zz", Err(PercentError::BadEscape)),
            ("trailing%4", Err(PercentError::BadEscape)),
            ("%00%zz", Err(PercentError::Nul)),
            ("%zz%00", Err(PercentError::BadEscape)),
            ("%FF", Err(PercentError::NotUtf8)),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input), want.map(str::to_owned), "{input}");
        }
    }
}
