//! Container registries as resources, and their admin user.

use super::{Client, ClientResult};
use casemate_types::wire::{
    CreateRegistryRequest, RegenerateCredentialRequest, Registry, RegistryCredentials,
    UpdateRegistryRequest,
};
use reqwest::Method;

impl Client {
    pub async fn create_registry(
        &self,
        rg: &str,
        name: &str,
        request: &CreateRegistryRequest,
    ) -> ClientResult<Registry> {
        self.send_json(
            Method::PUT,
            &["resourceGroups", rg, "registries", name],
            &[],
            request,
        )
        .await
    }

    pub async fn list_registries(&self, rg: &str) -> ClientResult<Vec<Registry>> {
        self.get(&["resourceGroups", rg, "registries"]).await
    }

    pub async fn get_registry(&self, rg: &str, name: &str) -> ClientResult<Registry> {
        self.get(&["resourceGroups", rg, "registries", name]).await
    }

    pub async fn update_registry(
        &self,
        rg: &str,
        name: &str,
        request: &UpdateRegistryRequest,
    ) -> ClientResult<Registry> {
        self.send_json(
            Method::PATCH,
            &["resourceGroups", rg, "registries", name],
            &[],
            request,
        )
        .await
    }

    pub async fn delete_registry(&self, rg: &str, name: &str) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &["resourceGroups", rg, "registries", name],
            None,
        )
        .await
    }

    pub async fn list_registry_credentials(
        &self,
        rg: &str,
        name: &str,
    ) -> ClientResult<RegistryCredentials> {
        self.post_empty(&["resourceGroups", rg, "registries", name, "listCredentials"])
            .await
    }

    /// `password` is `password` or `password2`.
    pub async fn regenerate_registry_credential(
        &self,
        rg: &str,
        name: &str,
        password: &str,
    ) -> ClientResult<RegistryCredentials> {
        self.post(
            &[
                "resourceGroups",
                rg,
                "registries",
                name,
                "regenerateCredential",
            ],
            &RegenerateCredentialRequest {
                name: password.to_owned(),
            },
        )
        .await
    }
}
