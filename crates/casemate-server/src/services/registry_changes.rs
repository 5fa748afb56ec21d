//! Changing registry entries after they were made: descriptions, tags, renames and deletions of
//! registered models and their versions, as MLflow's registry API does them.

use super::Services;
use super::registry::{parse_version, validate_model_name};
use super::tracking::{required, validated_tags};
use crate::error::{Error, Result};
use casemate_store::{RegistryItem, StoreError};
use casemate_types::clock::unix_millis;
use casemate_types::wire::mlflow::{KeyValue, ModelVersion, RegisteredModel};
use casemate_types::wire::mlflow_io::RegistryChange;

/// MLflow's limit on a registry description.
const MAX_DESCRIPTION_CHARS: usize = 5_000;

/// The one tag a set-tag request names, checked like every other tag.
fn one_tag(request: &RegistryChange) -> Result<(String, String)> {
    let tag = KeyValue {
        key: required("key", request.key.as_deref())?.to_owned(),
        value: request.value.clone().unwrap_or_default(),
    };
    validated_tags("key", &[tag])?
        .pop()
        .ok_or_else(|| Error::internal("a checked tag vanished"))
}

fn description(request: &RegistryChange) -> Result<&str> {
    let description = request.description.as_deref().unwrap_or("");
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(
            "description",
            format!("may be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(description)
}

fn item_of(name: &str, version: Option<i64>) -> RegistryItem<'_> {
    match version {
        Some(version) => RegistryItem::Version(name, version),
        None => RegistryItem::Model(name),
    }
}

impl Services {
    /// The workspace's id and the registered model a request names, which must exist.
    async fn model_target(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
    ) -> Result<(String, String)> {
        let name = required("name", request.name.as_deref())?.to_owned();
        let workspace = self.workspace_storage(rg, ws).await?.id;
        self.registered_model_record(&workspace, &name).await?;
        Ok((workspace, name))
    }

    /// The workspace's id and the model version a request names, which must exist.
    async fn version_target(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
    ) -> Result<(String, String, i64)> {
        let name = required("name", request.name.as_deref())?.to_owned();
        let version = parse_version(request.version.as_deref())?;
        let workspace = self.workspace_storage(rg, ws).await?.id;
        self.model_version_record(&workspace, &name, version)
            .await?;
        Ok((workspace, name, version))
    }

    /// A model, or with `with_version` one of its versions, as the generic changes take it.
    async fn registry_target(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
        with_version: bool,
    ) -> Result<(String, String, Option<i64>)> {
        if with_version {
            let (workspace, name, version) = self.version_target(rg, ws, request).await?;
            Ok((workspace, name, Some(version)))
        } else {
            let (workspace, name) = self.model_target(rg, ws, request).await?;
            Ok((workspace, name, None))
        }
    }

    pub async fn update_registered_model(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
    ) -> Result<RegisteredModel> {
        let description = description(request)?;
        let (workspace, name) = self.model_target(rg, ws, request).await?;
        let now = unix_millis(self.now());
        self.store
            .set_registry_description(&workspace, RegistryItem::Model(&name), description, now)
            .await?;
        let record = self.registered_model_record(&workspace, &name).await?;
        self.model_view(&record).await
    }

    pub async fn update_model_version(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
    ) -> Result<ModelVersion> {
        let description = description(request)?;
        let (workspace, name, version) = self.version_target(rg, ws, request).await?;
        let item = RegistryItem::Version(&name, version);
        let now = unix_millis(self.now());
        self.store
            .set_registry_description(&workspace, item, description, now)
            .await?;
        let record = self
            .model_version_record(&workspace, &name, version)
            .await?;
        self.version_view(&record).await
    }

    pub async fn rename_registered_model(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
    ) -> Result<RegisteredModel> {
        let to = required("new_name", request.new_name.as_deref())?;
        validate_model_name("new_name", to)?;
        let (workspace, from) = self.model_target(rg, ws, request).await?;
        let now = unix_millis(self.now());
        match self
            .store
            .rename_registered_model(&workspace, &from, to, now)
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(Error::Conflict(format!(
                    "registered model '{to}' already exists"
                )));
            }
            other => other?,
        }
        let record = self.registered_model_record(&workspace, to).await?;
        self.model_view(&record).await
    }

    /// Deletes a registered model (with `version`: one version of it).
    pub async fn delete_registry_item(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
        with_version: bool,
    ) -> Result<()> {
        let (workspace, name, version) =
            self.registry_target(rg, ws, request, with_version).await?;
        let item = item_of(&name, version);
        self.store.delete_registry_item(&workspace, item).await?;
        Ok(())
    }

    /// Sets a tag on a registered model or (with `version`) a version.
    pub async fn set_registry_tag(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
        with_version: bool,
    ) -> Result<()> {
        let (key, value) = one_tag(request)?;
        let (workspace, name, version) =
            self.registry_target(rg, ws, request, with_version).await?;
        let item = item_of(&name, version);
        self.store
            .set_registry_tag(&workspace, item, &key, Some(&value))
            .await?;
        Ok(())
    }

    pub async fn delete_registry_tag(
        &self,
        rg: &str,
        ws: &str,
        request: &RegistryChange,
        with_version: bool,
    ) -> Result<()> {
        let key = required("key", request.key.as_deref())?;
        let (workspace, name, version) =
            self.registry_target(rg, ws, request, with_version).await?;
        let item = item_of(&name, version);
        if !self
            .store
            .set_registry_tag(&workspace, item, key, None)
            .await?
        {
            return Err(Error::NotFound(format!("tag '{key}' of '{name}'")));
        }
        Ok(())
    }
}
