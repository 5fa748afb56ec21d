//! First start: the installation id, the `admin` user and its Owner assignment at `/`.

use crate::error::{Error, Result};
use base64::Engine;
use casemate_store::{PrincipalRecord, RoleAssignmentRecord, Store};
use casemate_types::Sensitive;
use casemate_types::names::validate_password;
use uuid::Uuid;

pub const ADMIN_USER: &str = "admin";

/// What first start did. `generated_password` is set only when casemate chose the password:
/// the caller prints it once, to the terminal, never to the log.
pub struct Bootstrap {
    pub installation_id: String,
    pub generated_password: Option<Sensitive>,
}

pub async fn bootstrap(
    store: &Store,
    admin_password: Option<&Sensitive>,
    now: i64,
) -> Result<Bootstrap> {
    if let Some(installation_id) = store.installation_value("installation_id").await? {
        return Ok(Bootstrap {
            installation_id,
            generated_password: None,
        });
    }
    let (password, generated) = match admin_password {
        Some(given) => {
            validate_password("CASEMATE_ADMIN_PASSWORD", given.expose())?;
            (given.clone(), false)
        }
        None => {
            let bytes = casemate_crypto::random_bytes::<24>()?;
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref());
            (Sensitive::new(encoded), true)
        }
    };
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || casemate_crypto::password::hash_password(password.expose())
    })
    .await
    .map_err(Error::internal)??;
    let installation_id = Uuid::new_v4().to_string();
    let admin = PrincipalRecord {
        id: Uuid::new_v4(),
        kind: "user".into(),
        name: ADMIN_USER.into(),
        display_name: "Administrator".into(),
        enabled: true,
        created_at: now,
        password_hash: Some(hash),
        client_id: None,
    };
    let owner = RoleAssignmentRecord {
        id: Uuid::new_v4(),
        principal_id: admin.id,
        role_name: "Owner".into(),
        scope: "/".into(),
        created_at: now,
    };
    if !store
        .bootstrap_installation(&installation_id, &admin, &owner)
        .await?
    {
        // Another process won the race; use its installation.
        let existing = store
            .installation_value("installation_id")
            .await?
            .ok_or_else(|| Error::internal("installation id missing after bootstrap race"))?;
        return Ok(Bootstrap {
            installation_id: existing,
            generated_password: None,
        });
    }
    Ok(Bootstrap {
        installation_id,
        generated_password: generated.then_some(password),
    })
}
