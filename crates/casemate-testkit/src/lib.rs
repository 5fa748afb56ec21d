//! Starts the real casemate server on 127.0.0.1:0 in a temporary directory, with a clock the test
//! controls, and hands out real clients that speak TLS with the server's pinned certificate.
// A test-support crate: failing loudly on set-up errors is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod postgres;
pub use postgres::PostgresServer;

use casemate_client::Client;
use casemate_server::RunningServer;
use casemate_server::config::{ConfigLayer, KeyProviderKind, ServerConfig};
use casemate_types::wire::{CreateRoleAssignmentRequest, CreateUserRequest, TokenRequest};
use casemate_types::{ManualClock, Sensitive};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const USER_PASSWORD: &str = "user-password-for-tests";

/// Every log line of this test process, at TRACE, for tests that scan logs for leaks. Installed
/// once per process (nextest runs each test in its own process).
pub fn capture_logs() -> CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a test server keeps its root key; the vault suite runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKeyProvider {
    File,
    SoftHsm,
}

/// A throwaway SoftHSM2 token made with `softhsm2-util` (in the directory that
/// `.config/softhsm2.conf` names) and deleted when dropped.
pub struct SoftHsmToken {
    pub label: String,
    pub pin: String,
    pub module: PathBuf,
    token_dir: PathBuf,
}

/// Held while something scans or changes the shared token directory: `softhsm2-util
/// --init-token --free` and `--delete-token`, and the library's first look at its slots. Test
/// processes run in parallel, and a scan that meets a token another process is deleting fails
/// ("Could not get info about the token"). The lock file sits beside the directory, since
/// SoftHSM reads every entry inside it.
pub struct TokenDirectoryLock {
    /// Closing the file releases the lock.
    _file: std::fs::File,
}

fn lock_token_directory(token_dir: &Path) -> TokenDirectoryLock {
    let mut path = token_dir.as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
    TokenDirectoryLock { _file: file }
}

const SOFTHSM_MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

impl SoftHsmToken {
    pub fn create() -> Self {
        let module = SOFTHSM_MODULES
            .iter()
            .map(PathBuf::from)
            .find(|path| path.exists())
            .expect("SoftHSM2 is not installed: `apt-get install softhsm2` (.ci/run does this)");
        let conf = std::env::var("SOFTHSM2_CONF").expect(
            "SOFTHSM2_CONF is unset: run the tests through cargo, which reads .cargo/config.toml",
        );
        let text = std::fs::read_to_string(&conf).unwrap();
        let token_dir = text
            .lines()
            .find_map(|line| line.strip_prefix("directories.tokendir = "))
            .expect("softhsm2.conf names no token directory");
        let token_dir = PathBuf::from(token_dir.trim());
        std::fs::create_dir_all(&token_dir).unwrap();
        // Token labels hold at most 32 bytes.
        let label = format!("cm-{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
        let pin = format!("pin-{}", uuid::Uuid::new_v4().simple());
        let _lock = lock_token_directory(&token_dir);
        let status = std::process::Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", &label])
            .args(["--pin", &pin, "--so-pin", &format!("so-{pin}")])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("softhsm2-util could not be started");
        assert!(status.success(), "softhsm2-util --init-token failed");
        Self {
            label,
            pin,
            module,
            token_dir,
        }
    }

    /// Keeps other test processes from changing the token directory until dropped.
    pub fn lock_directory(&self) -> TokenDirectoryLock {
        lock_token_directory(&self.token_dir)
    }
}

impl Drop for SoftHsmToken {
    fn drop(&mut self) {
        let _lock = self.lock_directory();
        let _ = std::process::Command::new("softhsm2-util")
            .args(["--delete-token", "--token", &self.label])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// With `CASEMATE_TEST_S3_ENDPOINT` set (a loopback S3-compatible server whose bucket
/// `CASEMATE_TEST_S3_BUCKET`, default `casemate-tests`, exists; credentials in `AWS_*`), every
/// test server keeps its blobs there, under a prefix of its own named by its home: `.ci/run`
/// runs the whole suite so a second time.
fn s3_blobs(home: &Path) -> ConfigLayer {
    let Ok(endpoint) = std::env::var("CASEMATE_TEST_S3_ENDPOINT") else {
        return ConfigLayer::default();
    };
    let bucket =
        std::env::var("CASEMATE_TEST_S3_BUCKET").unwrap_or_else(|_| "casemate-tests".into());
    let prefix = home.file_name().unwrap().to_string_lossy().to_lowercase();
    ConfigLayer {
        blob_url: Some(format!("s3://{bucket}/{prefix}")),
        s3_endpoint: Some(endpoint),
        ..Default::default()
    }
}

/// With `CASEMATE_TEST_DATABASE_URL` set (a PostgreSQL server, connected to as a role that may
/// create databases), every test server keeps its metadata in a database of its own there,
/// named by its home so a restart finds it again: `.ci/run` runs the whole suite so once more.
async fn postgres_metadata(home: &Path) -> ConfigLayer {
    let Ok(admin) = std::env::var("CASEMATE_TEST_DATABASE_URL") else {
        return ConfigLayer::default();
    };
    let name: String = home
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let url = casemate_store::Store::create_postgres_database(&admin, &format!("casemate{name}"))
        .await
        .unwrap();
    ConfigLayer {
        database_url: Some(Sensitive::new(url)),
        ..Default::default()
    }
}

pub struct TestServer {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub url: String,
    pub fingerprint: String,
    home: tempfile::TempDir,
    token: Option<SoftHsmToken>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ConfigLayer::default()).await
    }

    /// Starts with extra settings; home and admin password are the kit's, and so is the listen
    /// address unless `layer` names one.
    pub async fn start_with(layer: ConfigLayer) -> Self {
        let home = tempfile::tempdir().unwrap();
        Self::start_in(home, None, layer).await
    }

    /// Starts with the root key in a key file or in a fresh SoftHSM2 token.
    pub async fn start_on(provider: TestKeyProvider) -> Self {
        let home = tempfile::tempdir().unwrap();
        let token = (provider == TestKeyProvider::SoftHsm).then(SoftHsmToken::create);
        Self::start_in(home, token, ConfigLayer::default()).await
    }

    async fn start_in(
        home: tempfile::TempDir,
        token: Option<SoftHsmToken>,
        layer: ConfigLayer,
    ) -> Self {
        let hsm = match &token {
            Some(token) => ConfigLayer {
                key_provider: Some(KeyProviderKind::Pkcs11),
                pkcs11_module: Some(token.module.clone()),
                pkcs11_token_label: Some(token.label.clone()),
                pkcs11_pin: Some(Sensitive::new(token.pin.clone())),
                ..Default::default()
            },
            None => ConfigLayer::default(),
        };
        let layer = ConfigLayer {
            // A test that must know the port beforehand (to register a callback) names it.
            listen: layer.listen.or(Some("127.0.0.1:0".parse().unwrap())),
            home: Some(home.path().to_path_buf()),
            ..Default::default()
        }
        .over(layer)
        .over(hsm)
        .over(s3_blobs(home.path()))
        .over(postgres_metadata(home.path()).await);
        let config = ServerConfig::resolve(layer, Some(Sensitive::new(ADMIN_PASSWORD))).unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let directory_lock = token.as_ref().map(SoftHsmToken::lock_directory);
        let server = casemate_server::start(&config, clock.clone())
            .await
            .unwrap();
        drop(directory_lock);
        let fingerprint = server.fingerprint.clone().unwrap_or_default();
        Self {
            url: server.url.clone(),
            fingerprint,
            server,
            clock,
            home,
            token,
        }
    }

    /// Stops the server and starts it again on the same data directory (a new port).
    pub async fn restart(self, layer: ConfigLayer) -> Self {
        let (home, token) = (self.home, self.token);
        self.server.shutdown().await;
        Self::start_in(home, token, layer).await
    }

    /// The SoftHSM2 token holding the root key, when the server was started on one.
    pub fn hsm_token(&self) -> Option<&SoftHsmToken> {
        self.token.as_ref()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.home.path().join("tls").join("cert.pem")
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, Some(&self.fingerprint)).unwrap()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Client {
        let anonymous = self.anonymous();
        let response = anonymous
            .token(&TokenRequest::password(
                username,
                Sensitive::new(password),
                None,
            ))
            .await
            .unwrap_or_else(|e| panic!("sign-in as {username}: {e}"));
        anonymous.with_bearer(response.access_token)
    }

    pub async fn admin(&self) -> Client {
        self.sign_in("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user (through the admin) and returns a client signed in as it.
    pub async fn new_user(&self, name: &str) -> Client {
        self.admin()
            .await
            .create_user(&CreateUserRequest {
                name: name.into(),
                display_name: None,
                password: Sensitive::new(USER_PASSWORD),
            })
            .await
            .unwrap();
        self.sign_in(name, USER_PASSWORD).await
    }

    /// Creates a user holding `role` at `scope` (assigned by the admin) and signs it in.
    pub async fn user_with_role(&self, name: &str, role: &str, scope: &str) -> Client {
        let client = self.new_user(name).await;
        self.admin()
            .await
            .create_role_assignment(
                scope,
                &CreateRoleAssignmentRequest {
                    assignee: name.into(),
                    role: role.into(),
                },
            )
            .await
            .unwrap();
        client
    }

    /// The names of every stored blob (relative to the blob store's root), on either backend.
    pub async fn blob_names(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        let mut names: Vec<String> = self
            .server
            .services
            .blobs
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        names.sort();
        names
    }

    /// A stored blob's bytes, as the blob store holds them (sealed).
    pub async fn read_blob(&self, name: &str) -> Vec<u8> {
        let location = object_store::path::Path::from(name);
        let got = self.server.services.blobs.get(&location).await.unwrap();
        got.bytes().await.unwrap().to_vec()
    }

    /// Overwrites a stored blob, as an intruder with access to the bucket or disk would.
    pub async fn write_blob(&self, name: &str, bytes: Vec<u8>) {
        let location = object_store::path::Path::from(name);
        self.server
            .services
            .blobs
            .put(&location, bytes.into())
            .await
            .unwrap();
    }

    /// Every stored blob with its bytes.
    pub async fn blobs(&self) -> Vec<(String, Vec<u8>)> {
        let mut all = Vec::new();
        for name in self.blob_names().await {
            let bytes = self.read_blob(&name).await;
            all.push((name, bytes));
        }
        all
    }

    /// Whether the server's metadata is in SQLite (else PostgreSQL).
    pub fn on_sqlite(&self) -> bool {
        self.server.services.store.sqlite_pool().is_some()
    }

    /// Runs SQL directly against the server's database, as an intruder (or a broken disk) would.
    pub async fn sql(&self, statement: &'static str) -> Result<(), String> {
        let store = &self.server.services.store;
        let done = match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => sqlx::raw_sql(statement).execute(pool).await.map(|_| ()),
            (_, Some(pool)) => sqlx::raw_sql(statement).execute(pool).await.map(|_| ()),
            (None, None) => unreachable!("a store has one backend"),
        };
        done.map_err(|e| e.to_string())
    }

    /// [`Self::sql`] in the dialect of the server's database, for what the two write
    /// differently (triggers, casts to bytes).
    pub async fn sql_per_backend(
        &self,
        sqlite: &'static str,
        postgres: &'static str,
    ) -> Result<(), String> {
        if self.on_sqlite() {
            self.sql(sqlite).await
        } else {
            self.sql(postgres).await
        }
    }

    /// On PostgreSQL, every row of every table in text form (byte columns as hex, `\x…`), for
    /// tests that search the database for what must not be there; None on SQLite, whose files
    /// are under the home.
    pub async fn postgres_rows(&self) -> Option<String> {
        let pool = self.server.services.store.postgres_pool()?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut text = String::new();
        for table in tables {
            let statement =
                format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t");
            let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
                .fetch_one(pool)
                .await
                .unwrap();
            text.push_str(&rows);
            text.push('\n');
        }
        Some(text)
    }

    /// One text value, straight from the database.
    pub async fn sql_scalar(&self, query: &'static str) -> String {
        let store = &self.server.services.store;
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => sqlx::query_scalar(query).fetch_one(pool).await.unwrap(),
            (_, Some(pool)) => sqlx::query_scalar(query).fetch_one(pool).await.unwrap(),
            (None, None) => unreachable!("a store has one backend"),
        }
    }

    /// Every data key as stored: (id, owner, wrapped bytes).
    pub async fn data_keys(&self) -> Vec<(String, String, Vec<u8>)> {
        let query = "SELECT id, owner, wrapped FROM data_keys";
        let store = &self.server.services.store;
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => sqlx::query_as(query).fetch_all(pool).await.unwrap(),
            (_, Some(pool)) => sqlx::query_as(query).fetch_all(pool).await.unwrap(),
            (None, None) => unreachable!("a store has one backend"),
        }
    }

    /// Appends one correctly chained record to the activity log straight through the store, as
    /// another server process sharing the database would.
    pub async fn append_activity_as_another_process(&self, operation: &str) {
        let store = &self.server.services.store;
        let (seq, prev_hash) = store
            .activity_head()
            .await
            .unwrap()
            .unwrap_or((0, vec![0u8; 32]));
        let mut record = casemate_store::ActivityRecord {
            seq: seq + 1,
            id: uuid::Uuid::new_v4().to_string(),
            time_ms: 1,
            operation: operation.to_owned(),
            phase: "Succeeded".into(),
            status: 200,
            caller_id: String::new(),
            caller_name: "another-process".into(),
            resource_id: "/".into(),
            correlation_id: String::new(),
            client_address: String::new(),
            user_agent: String::new(),
            detail: String::new(),
            prev_hash,
            hash: vec![],
        };
        record.hash = casemate_server::services::activity::chain_hash(&record).to_vec();
        store
            .append_activity(&[record], casemate_store::Durability::Now)
            .await
            .unwrap();
    }

    /// Counts the rows of a table, straight from the database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let statement = format!("SELECT COUNT(*) FROM {table}");
        let store = &self.server.services.store;
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
                .fetch_one(pool)
                .await
                .unwrap(),
            (_, Some(pool)) => sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
                .fetch_one(pool)
                .await
                .unwrap(),
            (None, None) => unreachable!("a store has one backend"),
        }
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
