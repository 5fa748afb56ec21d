//! The real `casemate` binary (release build) started by a benchmark on an ephemeral port with
//! its data in a directory the benchmark owns, and stopped when dropped.

use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_types::Sensitive;
use casemate_types::wire::TokenRequest;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ADMIN_PASSWORD: &str = "benchmark-admin-password";

/// A child process killed when dropped, so a failed benchmark leaves no server behind.
/// A server the runner started, with the process group it leads: dropping it kills the whole
/// group, so workers it forked (`mlflow server` runs several) do not outlive it and load the
/// machine under the next measurement.
pub struct ChildProcess(pub Child);

impl ChildProcess {
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        command.process_group(0).spawn().map(Self)
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(group) = i32::try_from(self.0.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A program to compare against: `$variable` when set, else `name` found on PATH.
pub fn find_program(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.exists())
    })
}

/// A loopback port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

pub fn casemate_binary() -> anyhow::Result<PathBuf> {
    let runner = std::env::current_exe()?;
    let binary = runner
        .parent()
        .context("the runner has no directory")?
        .join("casemate");
    if !binary.exists() {
        bail!(
            "{} is missing: build it first with `cargo build --release --bin casemate`",
            binary.display()
        );
    }
    Ok(binary)
}

pub struct CasemateServer {
    process: ChildProcess,
    url: String,
    fingerprint: String,
}

impl CasemateServer {
    /// Starts `casemate server` on embedded SQLite.
    pub fn start(home: &Path) -> anyhow::Result<Self> {
        Self::start_on(home, None)
    }

    /// Starts `casemate server`, its metadata in `database_url` when given, and reads its URL
    /// and certificate fingerprint from stdout.
    pub fn start_on(home: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        Self::start_with(Command::new(casemate_binary()?), home, database_url)
    }

    /// Starts `casemate server` through `command`: the binary itself, or a wrapper (a profiler)
    /// already given the binary's path.
    pub fn start_with(
        mut command: Command,
        home: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        command
            .args(["server", "--listen", "127.0.0.1:0", "--home"])
            .arg(home)
            .env("CASEMATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let mut process = ChildProcess::spawn(&mut command)?;
        let stdout = process.0.stdout.take().context("no stdout")?;
        let (mut url, mut fingerprint) = (String::new(), String::new());
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("casemate server listening on ") {
                url = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("SHA-256 fingerprint: ") {
                fingerprint = rest.trim().to_owned();
            } else if line.starts_with("casemate is ready") {
                return Ok(Self {
                    process,
                    url,
                    fingerprint,
                });
            }
        }
        bail!("casemate exited before it was ready")
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Stops the server with SIGTERM, as a service manager would, and waits for it to exit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let pid = i32::try_from(self.pid())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .context("no process id")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        self.process.0.wait()?;
        Ok(())
    }

    /// A new connection that trusts the server's certificate by its fingerprint.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.url, Some(&self.fingerprint))?)
    }

    /// A client signed in as the bootstrap administrator, and its token.
    pub async fn admin(&self) -> anyhow::Result<(Client, Sensitive)> {
        let anonymous = self.client()?;
        let token = anonymous
            .token(&TokenRequest::password(
                "admin",
                Sensitive::new(ADMIN_PASSWORD),
                None,
            ))
            .await?
            .access_token;
        Ok((anonymous.with_bearer(token.clone()), token))
    }
}
