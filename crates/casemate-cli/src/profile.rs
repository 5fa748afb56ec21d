//! The signed-in profile: server URL, pinned fingerprint and tokens, in a file of mode 0600 under
//! `~/.casemate` (or `$CASEMATE_CONFIG_DIR`).

use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_types::Sensitive;
use casemate_types::wire::{TokenRequest, TokenResponse};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

#[derive(Debug, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub fingerprint: Option<String>,
    pub principal: String,
    pub access_token: Sensitive,
    pub refresh_token: Option<Sensitive>,
    /// Unix seconds.
    pub expires_at: i64,
}

pub fn directory() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("CASEMATE_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var("HOME").context("HOME is not set; set CASEMATE_CONFIG_DIR")?;
    Ok(PathBuf::from(home).join(".casemate"))
}

fn path() -> anyhow::Result<PathBuf> {
    Ok(directory()?.join("profile.json"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Profile {
    pub fn from_token(
        server: &str,
        fingerprint: Option<String>,
        principal: &str,
        token: TokenResponse,
    ) -> Self {
        Self {
            server: server.to_owned(),
            fingerprint,
            principal: principal.to_owned(),
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            expires_at: now() + token.expires_in,
        }
    }

    pub fn load() -> anyhow::Result<Self> {
        let path = path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("not signed in: run `casemate login URL` first")
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid profile", path.display()))
    }

    /// Writes the profile with mode 0600 (via a temporary file and rename, so it is never half-written).
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = directory()?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let final_path = path()?;
        let temporary = dir.join(format!(".profile.{}.tmp", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &final_path)
            .with_context(|| format!("writing {}", final_path.display()))?;
        Ok(())
    }

    pub fn remove() -> anyhow::Result<()> {
        match std::fs::remove_file(path()?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn anonymous_client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.server, self.fingerprint.as_deref())?)
    }

    /// A client with a valid access token, refreshing (and saving the rotated tokens) when the
    /// stored one is about to expire.
    pub async fn client(&mut self) -> anyhow::Result<Client> {
        let anonymous = self.anonymous_client()?;
        if self.expires_at - now() < 60
            && let Some(refresh) = self.refresh_token.clone()
        {
            let token = anonymous
                .token(&TokenRequest::refresh(refresh))
                .await
                .context("the session expired or was revoked: run `casemate login` again")?;
            *self = Profile::from_token(
                &self.server,
                self.fingerprint.clone(),
                &self.principal,
                token,
            );
            self.save()?;
        }
        Ok(anonymous.with_bearer(self.access_token.clone()))
    }
}
