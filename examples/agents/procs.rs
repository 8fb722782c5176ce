//! Child processes: the four services (this same executable in another role) and `nats-server`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A running child service: we hold its stdin (closing it is the shutdown signal) and its stdout.
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) url: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Service {
    /// Starts this executable with `args` and waits for its `READY <url>` line.
    pub(crate) async fn spawn(
        name: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawn {name}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut service = Self {
            name: name.to_owned(),
            url: String::new(),
            child,
            stdin,
            stdout,
        };
        let line = service
            .read_line(Duration::from_secs(60))
            .await
            .map_err(|e| format!("{name} did not start: {e}"))?;
        match line.strip_prefix("READY ") {
            Some(url) => service.url = url.trim().to_owned(),
            None => return Err(format!("{name}: unexpected first line {line:?}")),
        }
        Ok(service)
    }

    /// The next stdout line of the child.
    pub(crate) async fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        match tokio::time::timeout(timeout, self.stdout.next_line()).await {
            Err(_) => Err(format!("timed out after {timeout:?}")),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(None)) => Err("exited".to_owned()),
            Ok(Ok(Some(line))) => Ok(line),
        }
    }

    /// Writes one line to the child's stdin.
    pub(crate) async fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stdin.flush().await.map_err(|e| e.to_string())
    }

    /// Closes stdin (the child flushes its telemetry and exits) and waits; kills after `grace`.
    pub(crate) async fn shutdown(mut self, grace: Duration) -> Result<(), String> {
        drop(self.stdin.take());
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("{} exited with {status}", self.name)),
            Ok(Err(e)) => Err(format!("{}: {e}", self.name)),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!(
                    "{} did not exit within {grace:?}; killed",
                    self.name
                ))
            }
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `nats-server` executable, when installed.
pub(crate) fn nats_server_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/bin".into()])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

/// A `nats-server` on a free 127.0.0.1 port, killed on drop.
pub(crate) struct NatsServer {
    pub(crate) url: String,
    child: Child,
}

impl NatsServer {
    pub(crate) async fn start(bin: &std::path::Path) -> Result<Self, String> {
        let port = free_port().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn nats-server: {e}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err("nats-server did not accept connections within 10s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            url: format!("nats://127.0.0.1:{port}"),
            child,
        })
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}
