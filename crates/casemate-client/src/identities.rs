//! Managed identities, and a run's token as its compute's identity.

use super::{Client, ClientResult};
use casemate_types::wire::{CreateIdentityRequest, Identity, IdentityTokenRequest, TokenResponse};
use reqwest::Method;
use uuid::Uuid;

impl Client {
    pub async fn create_identity(
        &self,
        rg: &str,
        name: &str,
        request: &CreateIdentityRequest,
    ) -> ClientResult<Identity> {
        self.send_json(
            Method::PUT,
            &["resourceGroups", rg, "identities", name],
            &[],
            request,
        )
        .await
    }

    pub async fn list_identities(&self, rg: &str) -> ClientResult<Vec<Identity>> {
        self.get(&["resourceGroups", rg, "identities"]).await
    }

    pub async fn get_identity(&self, rg: &str, name: &str) -> ClientResult<Identity> {
        self.get(&["resourceGroups", rg, "identities", name]).await
    }

    pub async fn delete_identity(&self, rg: &str, name: &str) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &["resourceGroups", rg, "identities", name],
            None,
        )
        .await
    }

    /// With a run's token: a token as one of the identities of the run's compute.
    pub async fn run_identity_token(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        request: &IdentityTokenRequest,
    ) -> ClientResult<TokenResponse> {
        let run = run.to_string();
        self.post(
            &[
                "resourceGroups",
                rg,
                "workspaces",
                ws,
                "runs",
                &run,
                "identityToken",
            ],
            request,
        )
        .await
    }
}
