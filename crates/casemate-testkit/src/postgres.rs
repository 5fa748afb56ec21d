//! A PostgreSQL server for tests and benchmarks that need one whatever the suite's backend:
//! `CASEMATE_TEST_DATABASE_URL`'s when set (`.ci/run`'s second pass), else a throwaway cluster
//! from Debian's `postgresql` package on a loopback port, stopped and deleted when dropped.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

pub struct PostgresServer {
    admin_url: String,
    cluster: Option<Cluster>,
}

struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// Deleted once the cluster is stopped: `Drop` on the server stops it first.
    _dir: tempfile::TempDir,
}

impl PostgresServer {
    pub fn start() -> Self {
        match std::env::var("CASEMATE_TEST_DATABASE_URL") {
            Ok(admin_url) => Self {
                admin_url,
                cluster: None,
            },
            Err(_) => Self::throwaway(),
        }
    }

    /// A new cluster: `initdb`, then `pg_ctl start` on a free loopback port, trusting the
    /// `casemate` role (nothing but this machine can reach it).
    fn throwaway() -> Self {
        let bin = postgres_bin().expect(
            "PostgreSQL is not installed: `apt-get install postgresql` (.ci/run does this)",
        );
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: the cluster then belongs to the package's user.
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres").arg(dir.path());
            run(chown);
        }
        let data = dir.path().join("data");
        let mut initdb = pg_command(
            &bin.join("initdb"),
            ["-D".as_ref(), data.as_os_str()],
            as_postgres,
        );
        initdb.args([
            "-U",
            "casemate",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run(initdb);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            dir.path().display()
        );
        let log = dir.path().join("postgres.log");
        let pg_ctl = bin.join("pg_ctl");
        let mut start = pg_command(
            &pg_ctl,
            [
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
            ],
            as_postgres,
        );
        start.args(["-w", "-o", &options, "start"]);
        run(start);
        Self {
            admin_url: format!("postgres://casemate@127.0.0.1:{port}/postgres"),
            cluster: Some(Cluster {
                pg_ctl,
                data,
                as_postgres,
                _dir: dir,
            }),
        }
    }

    /// A URL for connecting as a role that may create databases.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The URL of a database of this name, created if it is not there yet.
    pub async fn database(&self, name: &str) -> String {
        casemate_store::Store::create_postgres_database(&self.admin_url, name)
            .await
            .unwrap()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(cluster) = &self.cluster {
            let mut stop = pg_command(
                &cluster.pg_ctl,
                ["-D".as_ref(), cluster.data.as_os_str()],
                cluster.as_postgres,
            );
            stop.args(["-m", "immediate", "stop"]);
            let _ = stop.output();
        }
    }
}

/// The newest installed PostgreSQL's programs.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `program args`, as the postgres user when the cluster is theirs.
fn pg_command<I, S>(program: &std::path::Path, args: I, as_postgres: bool) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = if as_postgres {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(program);
        runuser
    } else {
        Command::new(program)
    };
    command.args(args);
    command
}

fn run(mut command: Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
