//! A throwaway local PostgreSQL cluster: initdb on a free port, pg_stat_statements
//! preloaded, removed when it is dropped or when the process that started it exits.
//!
//! The integration tests run against it, and so will `pgadvise demo`. It never
//! touches a cluster it did not create. initdb refuses to run as root, so when
//! pgadvise runs as root the server runs as the unprivileged `nobody` user.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where to look for the server binaries, in order, and how to install them.
const INSTALL_HINT: &str =
    "install the PostgreSQL server binaries (Debian/Ubuntu: `apt-get install postgresql`), \
     or point PGADVISE_PG_BIN at a directory holding initdb, pg_ctl and postgres, \
     or set PGADVISE_TEST_DATABASE_URL to a server you own (tests only)";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no PostgreSQL server binaries found (looked in {looked}): {INSTALL_HINT}")]
    BinariesNotFound { looked: String },
    #[error("{step} failed: {detail}")]
    Step { step: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// How the cluster is configured beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra `postgresql.conf` lines as (name, value); values are written verbatim.
    pub settings: Vec<(String, String)>,
    /// Libraries preloaded besides pg_stat_statements (e.g. `pg_qualstats`).
    pub extra_preload: Vec<String>,
    /// Leave pg_stat_statements out of shared_preload_libraries (to test the advice for that).
    pub without_pg_stat_statements: bool,
    /// Serve TLS with this certificate and key (PEM files; copied into the data directory).
    pub tls: Option<TlsFiles>,
    /// Use the server binaries in this directory instead of searching for them.
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A running throwaway cluster.
pub struct LocalCluster {
    bin_dir: PathBuf,
    root: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    watchdog: Option<std::process::Child>,
    stopped: bool,
}

/// The superuser of every throwaway cluster; it authenticates by trust over
/// loopback, every other role needs a password (so password handling can be tested).
pub const SUPERUSER: &str = "postgres";

impl fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCluster")
            .field("bin_dir", &self.bin_dir)
            .field("root", &self.root)
            .field("port", &self.port)
            .finish()
    }
}

impl LocalCluster {
    /// Finds initdb, pg_ctl and postgres: `PGADVISE_PG_BIN`, then `PATH`, then
    /// Debian's `/usr/lib/postgresql/<major>/bin` (newest major first).
    pub fn find_binaries() -> Result<PathBuf, ClusterError> {
        let mut looked = Vec::new();
        let has_all = |dir: &Path| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| dir.join(b).is_file())
        };
        if let Some(dir) = std::env::var_os("PGADVISE_PG_BIN") {
            let dir = PathBuf::from(dir);
            if has_all(&dir) {
                return Ok(dir);
            }
            // An explicit choice that does not work must not fall back silently.
            return Err(ClusterError::BinariesNotFound {
                looked: format!(
                    "PGADVISE_PG_BIN={} (it lacks initdb, pg_ctl or postgres)",
                    dir.display()
                ),
            });
        }
        looked.push("PGADVISE_PG_BIN (unset)".to_string());
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                    // Debian links initdb into PATH; resolve to the real bin dir.
                    let real = fs::canonicalize(dir.join("initdb"))
                        .ok()
                        .and_then(|p| p.parent().map(Path::to_path_buf))
                        .unwrap_or(dir);
                    if has_all(&real) {
                        return Ok(real);
                    }
                }
            }
        }
        looked.push("PATH".to_string());
        let debian = Path::new("/usr/lib/postgresql");
        looked.push(format!("{}/<major>/bin", debian.display()));
        let mut majors: Vec<(u32, PathBuf)> = fs::read_dir(debian)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, e.path().join("bin")))
            })
            .filter(|(_, bin)| has_all(bin))
            .collect();
        majors.sort();
        match majors.pop() {
            Some((_, bin)) => Ok(bin),
            None => Err(ClusterError::BinariesNotFound {
                looked: looked.join(", "),
            }),
        }
    }

    /// Creates and starts a cluster with pg_stat_statements preloaded.
    pub fn start(options: &ClusterOptions) -> Result<LocalCluster, ClusterError> {
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => Self::find_binaries()?,
        };
        let owner = unprivileged_owner()?;
        let root = unique_dir()?;
        fs::create_dir_all(&root).map_err(io_err(format!("creating {}", root.display())))?;
        // The server user must be able to enter the root; the data dir stays 0700.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .map_err(io_err("setting permissions"))?;
        let mut cluster = LocalCluster {
            bin_dir,
            root,
            port: 0,
            owner,
            watchdog: None,
            stopped: false,
        };
        // The watchdog first: whatever fails below, the directory goes away.
        cluster.spawn_watchdog()?;
        cluster.init(options)?;
        // A free port can be taken between probing and binding; try a few.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            cluster.write_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClusterError::Step {
            step: "starting the server".into(),
            detail: "no attempt made".into(),
        }))
    }

    /// Starts a hot standby of this cluster: a base backup (`pg_basebackup -R`,
    /// streaming WAL) in a directory of its own, then the server on a free port,
    /// streaming from this one. Removed like any other throwaway cluster.
    pub fn start_standby(&self) -> Result<LocalCluster, ClusterError> {
        let root = unique_dir()?;
        fs::create_dir_all(&root).map_err(io_err(format!("creating {}", root.display())))?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
            .map_err(io_err("setting permissions"))?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .map_err(io_err(format!("chown {}", root.display())))?;
        }
        let mut standby = LocalCluster {
            bin_dir: self.bin_dir.clone(),
            root,
            port: 0,
            owner: self.owner,
            watchdog: None,
            stopped: false,
        };
        standby.spawn_watchdog()?;
        let out = standby
            .server_command("pg_basebackup")
            .arg("-D")
            .arg(standby.data_dir())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                SUPERUSER,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running pg_basebackup"))?;
        if !out.status.success() {
            return Err(ClusterError::Step {
                step: "pg_basebackup".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        // The copied postgresql.conf points at the primary's socket directory.
        append(
            &standby.data_dir().join("postgresql.conf"),
            &format!(
                "\n# standby of {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
                self.port,
                standby.root.display()
            ),
        )?;
        let mut last = None;
        for _ in 0..5 {
            standby.port = free_port()?;
            standby.write_port()?;
            match standby.pg_ctl_start() {
                Ok(()) => return Ok(standby),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClusterError::Step {
            step: "starting the standby".into(),
            detail: "no attempt made".into(),
        }))
    }

    /// Stops the server the way a crash or a power cut would (`pg_ctl -m immediate`):
    /// connections drop at once. The files stay until the cluster is dropped.
    pub fn stop_immediately(&self) -> Result<(), ClusterError> {
        let out = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running pg_ctl stop"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ClusterError::Step {
                step: "pg_ctl stop -m immediate".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Directory holding the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.clone()
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The server log, for error messages.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// A URL for the superuser over loopback TCP.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port,
            percent_encode(database)
        )
    }

    /// Runs a server binary (psql, pg_ctl, ...) from this cluster's bin dir.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        // Relocatable builds (scripts/fetch-postgres) keep their libraries in
        // ../lib; Debian's packages do not need this.
        let lib = self.bin_dir.join("../lib");
        if lib.join("libpq.so.5").exists() {
            let mut paths = vec![lib];
            if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
                paths.extend(std::env::split_paths(&existing));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                cmd.env("LD_LIBRARY_PATH", joined);
            }
        }
        cmd
    }

    /// Like [`command`](Self::command), as the user that owns the data directory.
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = self.command(program);
        cmd.current_dir(&self.root);
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
            cmd.env("HOME", &self.root);
        }
        cmd
    }

    fn init(&self, options: &ClusterOptions) -> Result<(), ClusterError> {
        let data = self.data_dir();
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&self.root, Some(uid), Some(gid))
                .map_err(io_err(format!("chown {}", self.root.display())))?;
        }
        let out = self
            .server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running initdb"))?;
        if !out.status.success() {
            return Err(ClusterError::Step {
                step: "initdb".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let mut preload = Vec::new();
        if !options.without_pg_stat_statements {
            preload.push("pg_stat_statements".to_string());
        }
        preload.extend(options.extra_preload.iter().cloned());
        let mut conf = format!(
            "\n# pgadvise throwaway cluster\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             shared_preload_libraries = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             track_io_timing = on\n\
             password_encryption = 'scram-sha-256'\n\
             log_min_messages = warning\n",
            self.root.display(),
            preload.join(",")
        );
        if let Some(tls) = &options.tls {
            // The server refuses a key readable by others or owned by another user.
            for (source, name) in [(&tls.cert, "server.crt"), (&tls.key, "server.key")] {
                let dest = data.join(name);
                fs::copy(source, &dest).map_err(io_err(format!("copying {}", source.display())))?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(0o600))
                    .map_err(io_err("setting key permissions"))?;
                if let Some((uid, gid)) = self.owner {
                    std::os::unix::fs::chown(&dest, Some(uid), Some(gid))
                        .map_err(io_err(format!("chown {}", dest.display())))?;
                }
            }
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        append(&data.join("postgresql.conf"), &conf)?;
        // Trust for the superuser; a password for every other role, so that the
        // password paths (URL, PGPASSWORD, .pgpass) are exercised for real.
        let hba = format!(
            "local all {SUPERUSER} trust\n\
             host all {SUPERUSER} 127.0.0.1/32 trust\n\
             host replication {SUPERUSER} 127.0.0.1/32 trust\n\
             local all all scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n"
        );
        fs::write(data.join("pg_hba.conf"), hba).map_err(io_err("writing pg_hba.conf"))?;
        Ok(())
    }

    fn write_port(&self) -> Result<(), ClusterError> {
        // Later lines win in postgresql.conf, so a retry just appends.
        append(
            &self.data_dir().join("postgresql.conf"),
            &format!("port = {}\n", self.port),
        )
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let out = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running pg_ctl start"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        Err(ClusterError::Step {
            step: "pg_ctl start".into(),
            detail: format!(
                "{}\nserver log ({}):\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log_path().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        })
    }

    /// A background shell that outlives nothing: when this process exits (tests
    /// never run static destructors), it stops the server and removes the files.
    fn spawn_watchdog(&mut self) -> Result<(), ClusterError> {
        let script = r#"
            while kill -0 "$PARENT" 2>/dev/null; do sleep 1; done
            pidfile="$ROOT/data/postmaster.pid"
            if [ -f "$pidfile" ]; then
                pm=$(head -n 1 "$pidfile")
                kill -INT "$pm" 2>/dev/null
                i=0
                while kill -0 "$pm" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
                kill -KILL "$pm" 2>/dev/null
            fi
            rm -rf "$ROOT"
        "#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PARENT", std::process::id().to_string())
            .env("ROOT", &self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C aimed at the tests must not kill it first.
            .process_group(0)
            .spawn()
            .map_err(io_err("starting the cleanup watchdog"))?;
        self.watchdog = Some(child);
        Ok(())
    }

    /// Stops the server (fast shutdown) and removes its files.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
    }

    /// Waits until the server accepts connections again (after a restart).
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// When running as root, the uid/gid of `nobody`, which will own the cluster.
fn unprivileged_owner() -> Result<Option<(u32, u32)>, ClusterError> {
    use std::os::unix::fs::MetadataExt;
    let uid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(io_err("reading /proc/self"))?;
    if uid != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let found = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() == Some(&"nobody") && fields.len() > 3 {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    });
    Ok(Some(found.unwrap_or((65534, 65534))))
}

fn unique_dir() -> Result<PathBuf, ClusterError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Ok(std::env::temp_dir().join(format!(
        "pgadvise-pg-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("finding a free port"))?
        .port();
    Ok(port)
}

fn append(path: &Path, text: &str) -> Result<(), ClusterError> {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(io_err(format!("writing {}", path.display())))
}

/// Everything but RFC 3986's unreserved characters is escaped in a URL path.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}
