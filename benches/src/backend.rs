//! Where the benchmarked casemate keeps its metadata. `--backend sqlite` (the default) measures
//! the embedded SQLite database alone; `--backend postgres` measures SQLite and then PostgreSQL
//! (`CASEMATE_TEST_DATABASE_URL`'s server when set, else a throwaway cluster from Debian's
//! `postgresql` on loopback), so the two figures print one above the other from the same run.

use anyhow::bail;
use casemate_testkit::PostgresServer;

pub enum Backend {
    Sqlite,
    Postgres(PostgresServer),
}

impl Backend {
    /// The backends `[--backend sqlite|postgres]` asks for, SQLite always first.
    pub fn from_args(benchmark: &str, args: &[String]) -> anyhow::Result<Vec<Self>> {
        match args {
            [] => Ok(vec![Self::Sqlite]),
            [flag, backend] if flag == "--backend" && backend == "sqlite" => Ok(vec![Self::Sqlite]),
            [flag, backend] if flag == "--backend" && backend == "postgres" => {
                Ok(vec![Self::Sqlite, Self::Postgres(PostgresServer::start())])
            }
            _ => bail!("usage: casemate-bench {benchmark} [--backend sqlite|postgres]"),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }

    /// The `--database-url` for one new server: a fresh database each time, so a benchmark
    /// never starts on an earlier run's data.
    pub async fn database_url(&self) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres(server) => Some(
                server
                    .database(&format!("bench_{}", uuid::Uuid::new_v4().simple()))
                    .await,
            ),
        }
    }
}
