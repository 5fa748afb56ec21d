//! Time per authorization decision with 10, 1,000 and 100,000 role assignments in the
//! installation (1-20 per principal, scopes at every level). Two figures per size:
//! - engine: the pure decision over the principal's assignments (what the engine costs);
//! - service: what the gate pays per request: the principal's assignments read from SQLite
//!   through its index, resolved, and decided.
//!
//! Target (issue 3): engine median at most 2 µs and p99 at most 10 µs at 100,000, and no growth
//! with the installation's total.

use crate::stats::{Rng, summarize};
use casemate_authz::{Assignment, CATALOGUE, RoleDefinition, Scope, builtin_roles};
use casemate_server::config::{ConfigLayer, ServerConfig};
use casemate_server::services::{Caller, Credential};
use casemate_types::wire::PrincipalKind;
use casemate_types::{Sensitive, SystemClock};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [10, 1_000, 100_000];
const ENGINE_DECISIONS: usize = 200_000;
const SERVICE_DECISIONS: usize = 5_000;

/// A tree of scopes: groups, workspaces, computes.
fn scope_tree() -> Vec<Vec<String>> {
    let mut levels = vec![vec!["/".to_owned()], vec![], vec![], vec![]];
    for g in 0..50 {
        let group = format!("/resourceGroups/rg{g}");
        for w in 0..8 {
            let workspace = format!("{group}/workspaces/ws{w}");
            for c in 0..4 {
                levels[3].push(format!("{workspace}/computes/c{c}"));
            }
            levels[2].push(workspace);
        }
        levels[1].push(group);
    }
    levels
}

struct Installation {
    /// principal -> (role index, scope)
    assignments: HashMap<u32, Vec<(usize, String)>>,
    principals: u32,
}

fn installation(total: usize, rng: &mut Rng, levels: &[Vec<String>]) -> Installation {
    let mut assignments: HashMap<u32, Vec<(usize, String)>> = HashMap::new();
    let mut made = 0;
    let mut principal = 0u32;
    let roles = builtin_roles().len();
    while made < total {
        let count = (1 + rng.below(20)).min(total - made);
        let entry = assignments.entry(principal).or_default();
        for _ in 0..count {
            // Root assignments are rare, as in a real installation.
            let level = if rng.below(100) == 0 {
                0
            } else {
                1 + rng.below(3)
            };
            let scope = levels[level][rng.below(levels[level].len())].clone();
            entry.push((rng.below(roles), scope));
        }
        made += count;
        principal += 1;
    }
    Installation {
        assignments,
        principals: principal,
    }
}

fn engine(total: usize, roles: &[RoleDefinition], levels: &[Vec<String>]) {
    let mut rng = Rng::new(42 + total as u64);
    let installation = installation(total, &mut rng, levels);
    let index: HashMap<u32, Vec<Assignment<'_>>> = installation
        .assignments
        .iter()
        .map(|(principal, list)| {
            let resolved = list
                .iter()
                .filter_map(|(role, scope)| {
                    Some(Assignment::new(&roles[*role], Scope::parse(scope).ok()?))
                })
                .collect();
            (*principal, resolved)
        })
        .collect();
    let targets: Vec<Scope> = levels[3]
        .iter()
        .filter_map(|s| Scope::parse(s).ok())
        .collect();
    let mut samples = Vec::with_capacity(ENGINE_DECISIONS);
    let mut allowed = 0usize;
    for _ in 0..ENGINE_DECISIONS {
        let principal = rng.below(installation.principals as usize) as u32;
        let action = &CATALOGUE[rng.below(CATALOGUE.len())];
        let scope = &targets[rng.below(targets.len())];
        let started = Instant::now();
        let assignments = index.get(&principal).map(Vec::as_slice).unwrap_or(&[]);
        let decision = casemate_authz::is_allowed(assignments, action, scope);
        samples.push(started.elapsed());
        allowed += usize::from(decision);
    }
    let summary = summarize(samples);
    println!(
        "authz engine   assignments={total:>7}  principals={:>6}  decisions={}  median={:>6.2}µs  p99={:>6.2}µs  allowed={:.1}%",
        installation.principals,
        summary.samples,
        micros(summary.median),
        micros(summary.p99),
        100.0 * allowed as f64 / ENGINE_DECISIONS as f64
    );
}

fn micros(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1000.0
}

async fn service(total: usize, levels: &[Vec<String>]) -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let layer = ConfigLayer {
        listen: Some("127.0.0.1:0".parse()?),
        home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    let config = ServerConfig::resolve(layer, Some(Sensitive::new("benchmark-admin-password")))
        .map_err(anyhow::Error::msg)?;
    let server = casemate_server::start(&config, Arc::new(SystemClock)).await?;
    let mut rng = Rng::new(7 + total as u64);
    let installation = installation(total, &mut rng, levels);
    let roles = builtin_roles();
    let mut ids = Vec::new();
    let mut tx = server
        .services
        .store
        .sqlite_pool()
        .ok_or_else(|| anyhow::anyhow!("the authz benchmark seeds an SQLite store"))?
        .begin()
        .await?;
    for principal in 0..installation.principals {
        let id = uuid::Uuid::new_v4();
        sqlx::query("INSERT INTO principals (id, kind, name, display_name, enabled, created_at) VALUES (?, 'user', ?, ?, 1, 0)")
            .bind(id.to_string())
            .bind(format!("bench{principal}"))
            .bind(format!("bench{principal}"))
            .execute(&mut *tx)
            .await?;
        for (role, scope) in installation
            .assignments
            .get(&principal)
            .into_iter()
            .flatten()
        {
            sqlx::query("INSERT OR IGNORE INTO role_assignments (id, principal_id, role_name, scope, created_at) VALUES (?, ?, ?, ?, 0)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(id.to_string())
                .bind(&roles[*role].name)
                .bind(scope)
                .execute(&mut *tx)
                .await?;
        }
        ids.push(id);
    }
    tx.commit().await?;
    let targets: Vec<Scope> = levels[3]
        .iter()
        .filter_map(|s| Scope::parse(s).ok())
        .collect();
    let mut samples = Vec::with_capacity(SERVICE_DECISIONS);
    for _ in 0..SERVICE_DECISIONS {
        let principal_id = ids[rng.below(ids.len())];
        let caller = Caller {
            principal_id,
            name: String::new(),
            display_name: String::new(),
            kind: PrincipalKind::User,
            credential: Credential::PersonalAccessToken {
                token_id: principal_id,
                issued_at: time::OffsetDateTime::UNIX_EPOCH,
                expires_at: time::OffsetDateTime::UNIX_EPOCH,
            },
        };
        let action = CATALOGUE[rng.below(CATALOGUE.len())].name;
        let scope = &targets[rng.below(targets.len())];
        let started = Instant::now();
        let _ = server.services.authorize(&caller, action, scope).await;
        samples.push(started.elapsed());
    }
    let summary = summarize(samples);
    println!(
        "authz service  assignments={total:>7}  principals={:>6}  decisions={}  median={:>6.2}µs  p99={:>6.2}µs  (SQLite lookup + decision)",
        installation.principals,
        summary.samples,
        micros(summary.median),
        micros(summary.p99)
    );
    server.shutdown().await;
    Ok(())
}

pub async fn run() -> anyhow::Result<()> {
    let levels = scope_tree();
    let roles = builtin_roles();
    println!(
        "# authorization decisions (target at 100,000: engine median <= 2 µs, p99 <= 10 µs; flat across sizes)"
    );
    for total in SIZES {
        engine(total, roles, &levels);
    }
    for total in SIZES {
        service(total, &levels).await?;
    }
    Ok(())
}
