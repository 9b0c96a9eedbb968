//! A child process run to its end with its wall time and peak RSS. Shared by
//! the tests (through `support`) and `benches/selection.rs` (by path), so it
//! depends on nothing else of the harness.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished child process.
pub struct Measured {
    pub wall: Duration,
    pub peak_rss_bytes: u64,
    pub exit: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` to its end: wall time from spawn to reaping, peak RSS from the
/// child's own rusage (`wait4`).
// wait4 reaps the child: std's wait() would lose its rusage.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut Command) -> Measured {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own unreaped child.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            panic!("waiting for {program}: {err}");
        }
    }
    Measured {
        wall: started.elapsed(),
        exit: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        // Linux reports ru_maxrss in KiB.
        peak_rss_bytes: usage.ru_maxrss.max(0) as u64 * 1024,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
