//! MLflow experiments: a workspace's experiment resources seen through MLflow's API, with the
//! lifecycle, tags and stable id MLflow clients expect.

use super::{
    ACTIVE, DEFAULT_EXPERIMENT, DEFAULT_EXPERIMENT_ID, DEFAULT_SEARCH_RESULTS, DELETED,
    MAX_SEARCH_RESULTS, MAX_TAG_VALUE_CHARS, key_values, max_results, paginate, parse_filter,
    parse_order_by, required, tag_field, validate_key, validate_value, validated_tags,
    view_type_includes,
};
use crate::error::{Error, Result};
use crate::services::computes::{EXPERIMENTS, experiment_resource_id};
use crate::services::search_filter::{self, Entity, Field, SortKey};
use crate::services::{Caller, Services};
use casemate_store::ResourceRecord;
use casemate_types::clock::unix_millis;
use casemate_types::names::validate_child_name;
use casemate_types::wire::mlflow::{
    CreateExperiment, Experiment, SearchExperiments, SearchExperimentsResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an experiment keeps beyond the resource record.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ExperimentMeta {
    #[serde(default)]
    lifecycle: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    updated_at: Option<i64>,
    /// Kept once the experiment is renamed: its MLflow id stays the one it was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mlflow_id: Option<String>,
}

pub(super) struct ExperimentEntry {
    pub(super) record: ResourceRecord,
    meta: ExperimentMeta,
    pub(super) id: String,
}

impl ExperimentEntry {
    pub(super) fn deleted(&self) -> bool {
        self.meta.lifecycle.as_deref() == Some(DELETED)
    }
}

/// An experiment's MLflow id: stable, derived from its (case-insensitive) resource id.
pub(super) fn experiment_id(resource_id: &str, name: &str) -> String {
    if name.eq_ignore_ascii_case(DEFAULT_EXPERIMENT) {
        return DEFAULT_EXPERIMENT_ID.to_owned();
    }
    let digest = casemate_crypto::sha256(resource_id.to_ascii_lowercase().as_bytes());
    hex::encode(&digest[..10])
}

fn experiment_field(experiment: &Experiment, entity: Entity, key: &str) -> Option<Field> {
    match entity {
        Entity::Attribute => match key {
            "name" => Some(Field::Text(experiment.name.clone())),
            "experiment_id" => Some(Field::Text(experiment.experiment_id.clone())),
            "lifecycle_stage" => Some(Field::Text(experiment.lifecycle_stage.clone())),
            "creation_time" => Some(Field::Number(experiment.creation_time as f64)),
            "last_update_time" => Some(Field::Number(experiment.last_update_time as f64)),
            _ => None,
        },
        Entity::Tag => tag_field(&experiment.tags, key),
        Entity::Metric | Entity::Param => None,
    }
}

impl Services {
    pub(super) async fn experiment_entries(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<ExperimentEntry>> {
        self.store
            .resources(EXPERIMENTS, Some(workspace_id))
            .await?
            .into_iter()
            .map(|record| {
                let meta: ExperimentMeta = serde_json::from_str(&record.properties)
                    .map_err(|e| Error::internal(format!("experiment {}: {e}", record.id)))?;
                let id = meta
                    .mlflow_id
                    .clone()
                    .unwrap_or_else(|| experiment_id(&record.id, &record.name));
                Ok(ExperimentEntry { record, meta, id })
            })
            .collect()
    }

    pub(super) async fn experiment_entry(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<ExperimentEntry> {
        if id == DEFAULT_EXPERIMENT_ID {
            self.ensure_experiment(workspace_id, DEFAULT_EXPERIMENT, "casemate")
                .await?;
        }
        self.experiment_entries(workspace_id)
            .await?
            .into_iter()
            .find(|entry| entry.id == id)
            .ok_or_else(|| Error::NotFound(format!("experiment with id '{id}'")))
    }

    fn experiment_view(entry: &ExperimentEntry) -> Experiment {
        let created = entry.record.created_at.saturating_mul(1000);
        Experiment {
            experiment_id: entry.id.clone(),
            name: entry.record.name.clone(),
            artifact_location: format!("mlflow-artifacts:/experiments/{}", entry.id),
            lifecycle_stage: if entry.deleted() { DELETED } else { ACTIVE }.to_owned(),
            last_update_time: entry.meta.updated_at.unwrap_or(created),
            creation_time: created,
            tags: key_values(entry.meta.tags.clone()),
        }
    }

    async fn save_experiment_meta(&self, entry: &mut ExperimentEntry) -> Result<()> {
        entry.meta.updated_at = Some(unix_millis(self.now()));
        let properties = serde_json::to_string(&entry.meta).map_err(Error::internal)?;
        self.store
            .update_resource_properties(&entry.record.id, &properties)
            .await?;
        Ok(())
    }

    /// The properties of a new experiment `name`, and its MLflow id. A renamed experiment keeps
    /// the id its old name gives, so a new one under that old name gets an id of its own.
    pub(in crate::services) async fn new_experiment_properties(
        &self,
        workspace_id: &str,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(String, String)> {
        let derived = experiment_id(&experiment_resource_id(workspace_id, name), name);
        let taken = self
            .experiment_entries(workspace_id)
            .await?
            .iter()
            .any(|entry| entry.id == derived);
        let mlflow_id = taken.then(|| {
            let unique = format!("{workspace_id}/{}", uuid::Uuid::new_v4());
            hex::encode(&casemate_crypto::sha256(unique.as_bytes())[..10])
        });
        let meta = ExperimentMeta {
            lifecycle: Some(ACTIVE.to_owned()),
            tags,
            updated_at: Some(unix_millis(self.now())),
            mlflow_id: mlflow_id.clone(),
        };
        let properties = serde_json::to_string(&meta).map_err(Error::internal)?;
        Ok((properties, mlflow_id.unwrap_or(derived)))
    }

    /// The MLflow id of the workspace's experiment `name`: the one it was made with, also
    /// after a rename.
    pub async fn mlflow_experiment_id_of(&self, workspace_id: &str, name: &str) -> Result<String> {
        let resource_id = experiment_resource_id(workspace_id, name);
        let kept = match self.store.resource(&resource_id).await? {
            Some(record) => serde_json::from_str::<ExperimentMeta>(&record.properties)
                .ok()
                .and_then(|meta| meta.mlflow_id),
            None => None,
        };
        Ok(kept.unwrap_or_else(|| experiment_id(&resource_id, name)))
    }

    /// Renames an experiment, keeping its MLflow id, its runs and logged models, and the role
    /// assignments made at its scope.
    pub async fn mlflow_rename_experiment(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        new_name: &str,
    ) -> Result<()> {
        validate_child_name("new_name", new_name)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let mut entry = self.experiment_entry(&storage.id, id).await?;
        if entry.id == DEFAULT_EXPERIMENT_ID {
            return Err(Error::invalid(
                "experiment_id",
                "the Default experiment cannot be renamed",
            ));
        }
        if entry.record.name == new_name {
            return Ok(());
        }
        entry.meta.mlflow_id = Some(entry.id.clone());
        entry.meta.updated_at = Some(unix_millis(self.now()));
        let renamed = ResourceRecord {
            id: experiment_resource_id(&storage.id, new_name),
            name: new_name.to_owned(),
            properties: serde_json::to_string(&entry.meta).map_err(Error::internal)?,
            ..entry.record.clone()
        };
        match self
            .store
            .rename_experiment(&entry.record.id, &renamed)
            .await
        {
            Err(casemate_store::StoreError::Conflict(_)) => Err(Error::Conflict(format!(
                "experiment '{new_name}' already exists"
            ))),
            other => Ok(other?),
        }
    }

    pub async fn mlflow_experiment(&self, rg: &str, ws: &str, id: &str) -> Result<Experiment> {
        let storage = self.workspace_storage(rg, ws).await?;
        Ok(Self::experiment_view(
            &self.experiment_entry(&storage.id, id).await?,
        ))
    }

    pub async fn mlflow_experiment_by_name(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> Result<Experiment> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.experiment_entries(&storage.id)
            .await?
            .iter()
            .find(|entry| entry.record.name.eq_ignore_ascii_case(name))
            .map(Self::experiment_view)
            .ok_or_else(|| Error::NotFound(format!("experiment '{name}'")))
    }

    pub async fn mlflow_create_experiment(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        request: &CreateExperiment,
    ) -> Result<String> {
        let name = required("name", request.name.as_deref())?;
        validate_child_name("name", name)?;
        if request
            .artifact_location
            .as_deref()
            .is_some_and(|l| !l.is_empty())
        {
            return Err(Error::invalid(
                "artifact_location",
                "must be left unset: artifacts are stored, encrypted, in the workspace",
            ));
        }
        let tags = validated_tags("tags", &request.tags)?.into_iter().collect();
        let storage = self.workspace_storage(rg, ws).await?;
        let (properties, id) = self
            .new_experiment_properties(&storage.id, name, tags)
            .await?;
        let record = self.experiment_record(&storage.id, name, properties, &caller.name);
        match self.store.insert_resource(&record).await {
            Ok(()) => Ok(id),
            Err(casemate_store::StoreError::Conflict(_)) => Err(Error::Conflict(format!(
                "experiment '{name}' already exists"
            ))),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn mlflow_search_experiments(
        &self,
        rg: &str,
        ws: &str,
        request: &SearchExperiments,
    ) -> Result<SearchExperimentsResponse> {
        let clauses = parse_filter(request.filter.as_deref())?;
        let mut order = parse_order_by(&request.order_by)?;
        let limit = max_results(
            request.max_results,
            DEFAULT_SEARCH_RESULTS,
            MAX_SEARCH_RESULTS,
        )?;
        let storage = self.workspace_storage(rg, ws).await?;
        let mut experiments = Vec::new();
        for entry in self.experiment_entries(&storage.id).await? {
            if view_type_includes(request.view_type.as_deref(), entry.deleted())? {
                experiments.push(Self::experiment_view(&entry));
            }
        }
        order.push(SortKey::attribute("creation_time", false));
        order.push(SortKey::attribute("experiment_id", true));
        let found = search_filter::select(experiments, &clauses, &order, experiment_field);
        let (experiments, next_page_token) = paginate(found, request.page_token.as_deref(), limit)?;
        Ok(SearchExperimentsResponse {
            experiments,
            next_page_token,
        })
    }

    /// Deletes (soft) or restores an experiment.
    pub async fn mlflow_set_experiment_deleted(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        deleted: bool,
    ) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        let mut entry = self.experiment_entry(&storage.id, id).await?;
        if deleted && entry.id == DEFAULT_EXPERIMENT_ID {
            return Err(Error::invalid(
                "experiment_id",
                "the Default experiment cannot be deleted",
            ));
        }
        entry.meta.lifecycle = Some(if deleted { DELETED } else { ACTIVE }.to_owned());
        self.save_experiment_meta(&mut entry).await
    }

    /// Sets (`Some(value)`) or deletes (`None`) an experiment tag.
    pub async fn mlflow_experiment_tag(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        validate_key("key", key)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let mut entry = self.experiment_entry(&storage.id, id).await?;
        match value {
            Some(value) => {
                validate_value("value", value, MAX_TAG_VALUE_CHARS)?;
                entry.meta.tags.insert(key.to_owned(), value.to_owned());
            }
            None => {
                if entry.meta.tags.remove(key).is_none() {
                    return Err(Error::NotFound(format!("experiment tag '{key}'")));
                }
            }
        }
        self.save_experiment_meta(&mut entry).await
    }
}
