//! The model registry, per workspace: registered models, numbered versions with a stage, tags
//! and aliases. A version's `source` is where its files are (`mlflow-artifacts:/…` in this
//! workspace, or `runs:/RUN/path`, resolved to that run's artifacts when downloaded).

use super::resources::WorkspaceStorage;
use super::search_filter::{self, Entity, Field, SortKey};
use super::tracking::{
    key_values, max_results, paginate, parse_bare_filter, parse_run_id, required, run_artifact_uri,
    tag_field, validated_tags,
};
use super::{Caller, Services};
use crate::error::{Error, Result};
use crate::monitoring::MetricOutcome;
use crate::monitoring::service::MODEL_REGISTRATION;
use casemate_store::{ModelVersionRecord, RegisteredModelRecord};
use casemate_types::clock::unix_millis;
use casemate_types::wire::mlflow::{
    CreateModelVersion, CreateRegisteredModel, ModelAlias, ModelVersion, RegisteredModel,
    SearchRegistry,
};

const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];
const MAX_NAME_CHARS: usize = 256;
const DEFAULT_RESULTS: i64 = 100;
// The client asks for up to 200,000 model versions by default.
const MAX_RESULTS: i64 = 200_000;

pub(super) fn validate_model_name(field: &'static str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.contains(['/', '\\', ':', '%'])
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            field,
            format!(
                "must be 1-{MAX_NAME_CHARS} characters without '/', '\\', ':', '%' or control characters"
            ),
        ));
    }
    Ok(())
}

/// Aliases are letters, digits, '_' and '-', and may not look like a version (`v3`) or `latest`.
fn validate_alias(alias: &str) -> Result<()> {
    let looks_like_version = alias
        .strip_prefix(['v', 'V'])
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()));
    if alias.is_empty()
        || alias.len() > MAX_NAME_CHARS
        || !alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        || looks_like_version
        || alias.eq_ignore_ascii_case("latest")
    {
        return Err(Error::invalid(
            "alias",
            "must be letters, digits, '_' or '-', and not 'latest' or a version such as 'v3'",
        ));
    }
    Ok(())
}

pub(super) fn parse_version(text: Option<&str>) -> Result<i64> {
    required("version", text)?
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::invalid("version", "must be a positive whole number"))
}

fn canonical_stage(stage: &str) -> Result<&'static str> {
    STAGES
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .ok_or_else(|| Error::invalid("stage", "must be None, Staging, Production or Archived"))
}

fn version_field(version: &ModelVersion, entity: Entity, key: &str) -> Option<Field> {
    let text = |v: &str| Some(Field::Text(v.to_owned()));
    match (entity, key) {
        (Entity::Attribute, "name") => text(&version.name),
        (Entity::Attribute, "run_id") => text(&version.run_id),
        (Entity::Attribute, "source" | "source_path") => text(&version.source),
        (Entity::Attribute, "current_stage") => text(&version.current_stage),
        (Entity::Attribute, "version_number" | "version") => {
            version.version.parse::<f64>().ok().map(Field::Number)
        }
        (Entity::Attribute, "creation_timestamp") => {
            Some(Field::Number(version.creation_timestamp as f64))
        }
        (Entity::Attribute, "last_updated_timestamp") => {
            Some(Field::Number(version.last_updated_timestamp as f64))
        }
        (Entity::Tag, key) => tag_field(&version.tags, key),
        _ => None,
    }
}

fn model_field(model: &RegisteredModel, entity: Entity, key: &str) -> Option<Field> {
    match (entity, key) {
        (Entity::Attribute, "name") => Some(Field::Text(model.name.clone())),
        (Entity::Attribute, "creation_timestamp") => {
            Some(Field::Number(model.creation_timestamp as f64))
        }
        (Entity::Attribute, "last_updated_timestamp") => {
            Some(Field::Number(model.last_updated_timestamp as f64))
        }
        (Entity::Tag, key) => tag_field(&model.tags, key),
        _ => None,
    }
}

fn parse_search(
    request: &SearchRegistry,
) -> Result<(Vec<search_filter::Clause>, Vec<SortKey>, usize)> {
    let order = request
        .order_by
        .iter()
        .map(|entry| {
            search_filter::parse_order_by(entry, true)
                .map_err(|rule| Error::invalid("order_by", rule))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        parse_bare_filter(request.filter.as_deref())?,
        order,
        max_results(request.max_results, DEFAULT_RESULTS, MAX_RESULTS)?,
    ))
}

impl Services {
    pub(super) async fn version_view(&self, record: &ModelVersionRecord) -> Result<ModelVersion> {
        let aliases = self
            .store
            .model_aliases(&record.workspace_id, &record.model)
            .await?
            .into_iter()
            .filter(|(_, version)| *version == record.version)
            .map(|(alias, _)| alias)
            .collect();
        Ok(ModelVersion {
            name: record.model.clone(),
            version: record.version.to_string(),
            creation_timestamp: record.created_at,
            last_updated_timestamp: record.updated_at,
            user_id: record.created_by.clone(),
            current_stage: record.stage.clone(),
            description: record.description.clone(),
            source: record.source.clone(),
            run_id: record.run_id.clone(),
            status: "READY".to_owned(),
            tags: key_values(
                self.store
                    .model_version_tags(&record.workspace_id, &record.model, record.version)
                    .await?,
            ),
            aliases,
        })
    }

    pub(super) async fn model_view(
        &self,
        record: &RegisteredModelRecord,
    ) -> Result<RegisteredModel> {
        let versions: Vec<ModelVersionRecord> = self
            .store
            .model_versions(&record.workspace_id)
            .await?
            .into_iter()
            .filter(|v| v.model == record.name)
            .collect();
        let mut latest_versions = Vec::new();
        for stage in STAGES {
            if let Some(version) = versions
                .iter()
                .filter(|v| v.stage == stage)
                .max_by_key(|v| v.version)
            {
                latest_versions.push(self.version_view(version).await?);
            }
        }
        Ok(RegisteredModel {
            name: record.name.clone(),
            creation_timestamp: record.created_at,
            last_updated_timestamp: record.updated_at,
            user_id: record.created_by.clone(),
            description: record.description.clone(),
            latest_versions,
            tags: key_values(
                self.store
                    .registered_model_tags(&record.workspace_id, &record.name)
                    .await?,
            ),
            aliases: self
                .store
                .model_aliases(&record.workspace_id, &record.name)
                .await?
                .into_iter()
                .map(|(alias, version)| ModelAlias {
                    alias,
                    version: version.to_string(),
                })
                .collect(),
        })
    }

    pub(super) async fn registered_model_record(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<RegisteredModelRecord> {
        self.store
            .registered_model(workspace_id, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("registered model '{name}'")))
    }

    pub(crate) async fn model_version_record(
        &self,
        workspace_id: &str,
        name: &str,
        version: i64,
    ) -> Result<ModelVersionRecord> {
        self.registered_model_record(workspace_id, name).await?;
        self.store
            .model_version(workspace_id, name, version)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("version {version} of registered model '{name}'"))
            })
    }

    pub async fn create_registered_model(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        request: &CreateRegisteredModel,
    ) -> Result<RegisteredModel> {
        let name = required("name", request.name.as_deref())?;
        validate_model_name("name", name)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let now = unix_millis(self.now());
        let record = RegisteredModelRecord {
            workspace_id: storage.id.clone(),
            name: name.to_owned(),
            description: request.description.clone().unwrap_or_default(),
            created_at: now,
            updated_at: now,
            created_by: caller.name.clone(),
        };
        let tags = validated_tags("tags", &request.tags)?;
        match self.store.insert_registered_model(&record, &tags).await {
            Err(casemate_store::StoreError::Conflict(_)) => {
                return Err(Error::Conflict(format!(
                    "registered model '{name}' already exists"
                )));
            }
            other => other?,
        }
        self.model_view(&record).await
    }

    pub async fn registered_model(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> Result<RegisteredModel> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.registered_model_record(&storage.id, name).await?;
        self.model_view(&record).await
    }

    pub async fn search_registered_models(
        &self,
        rg: &str,
        ws: &str,
        request: &SearchRegistry,
    ) -> Result<(Vec<RegisteredModel>, Option<String>)> {
        let (clauses, mut order, limit) = parse_search(request)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let mut models = Vec::new();
        for record in self.store.registered_models(&storage.id).await? {
            models.push(self.model_view(&record).await?);
        }
        order.push(SortKey::attribute("name", true));
        let found = search_filter::select(models, &clauses, &order, model_field);
        paginate(found, request.page_token.as_deref(), limit)
    }

    /// The highest version in each of `stages` (every stage when empty).
    pub async fn latest_model_versions(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        stages: &[String],
    ) -> Result<Vec<ModelVersion>> {
        let wanted = stages
            .iter()
            .map(|s| canonical_stage(s))
            .collect::<Result<Vec<_>>>()?;
        let model = self.registered_model(rg, ws, name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| wanted.is_empty() || wanted.contains(&v.current_stage.as_str()))
            .collect())
    }

    /// Registers a new version of a model; every attempt in an existing workspace, succeeded or
    /// failed, counts in the workspace's metrics.
    pub async fn create_model_version(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        request: &CreateModelVersion,
    ) -> Result<ModelVersion> {
        let storage = self.workspace_storage(rg, ws).await?;
        let registered = self.register_version(caller, &storage, request).await;
        let outcome = if registered.is_ok() {
            MetricOutcome::Succeeded
        } else {
            MetricOutcome::Failed
        };
        self.note_workspace_event(&storage, MODEL_REGISTRATION, outcome)
            .await;
        registered
    }

    async fn register_version(
        &self,
        caller: &Caller,
        storage: &WorkspaceStorage,
        request: &CreateModelVersion,
    ) -> Result<ModelVersion> {
        let name = required("name", request.name.as_deref())?;
        let source = required("source", request.source.as_deref())?;
        if source.len() > 4096 || source.chars().any(char::is_control) {
            return Err(Error::invalid(
                "source",
                "must be at most 4096 characters without control characters",
            ));
        }
        let run_id = match request.run_id.as_deref().filter(|r| !r.is_empty()) {
            Some(run) => {
                let run = parse_run_id("run_id", Some(run))?;
                self.run_in(storage, run).await?;
                run.simple().to_string()
            }
            // A version of a logged model comes from the run that logged it, as in MLflow.
            None => match request
                .model_id
                .as_deref()
                .filter(|m| !m.is_empty())
                .or_else(|| {
                    source
                        .strip_prefix("models:/")
                        .filter(|m| m.starts_with("m-"))
                }) {
                Some(model) => {
                    self.logged_model_in(&storage.id, model)
                        .await?
                        .source_run_id
                }
                None => String::new(),
            },
        };
        self.registered_model_record(&storage.id, name).await?;
        let now = unix_millis(self.now());
        let mut record = ModelVersionRecord {
            workspace_id: storage.id.clone(),
            model: name.to_owned(),
            version: 0,
            source: source.to_owned(),
            run_id,
            description: request.description.clone().unwrap_or_default(),
            stage: "None".to_owned(),
            created_at: now,
            updated_at: now,
            created_by: caller.name.clone(),
        };
        let tags = validated_tags("tags", &request.tags)?;
        record.version = self.store.insert_model_version(&record, &tags).await?;
        self.version_view(&record).await
    }

    pub async fn model_version(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<ModelVersion> {
        let version = parse_version(version)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self
            .model_version_record(&storage.id, name, version)
            .await?;
        self.version_view(&record).await
    }

    pub async fn search_model_versions(
        &self,
        rg: &str,
        ws: &str,
        request: &SearchRegistry,
    ) -> Result<(Vec<ModelVersion>, Option<String>)> {
        let (clauses, mut order, limit) = parse_search(request)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let mut versions = Vec::new();
        for record in self.store.model_versions(&storage.id).await? {
            versions.push(self.version_view(&record).await?);
        }
        order.push(SortKey::attribute("name", true));
        order.push(SortKey::attribute("version_number", false));
        let found = search_filter::select(versions, &clauses, &order, version_field);
        paginate(found, request.page_token.as_deref(), limit)
    }

    pub async fn transition_model_version_stage(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        version: Option<&str>,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let version = parse_version(version)?;
        let stage = canonical_stage(stage)?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.model_version_record(&storage.id, name, version)
            .await?;
        let archive_others = archive_existing && matches!(stage, "Staging" | "Production");
        self.store
            .set_model_version_stage(
                &storage.id,
                name,
                version,
                stage,
                archive_others,
                unix_millis(self.now()),
            )
            .await?;
        let record = self
            .model_version_record(&storage.id, name, version)
            .await?;
        self.version_view(&record).await
    }

    pub async fn set_model_alias(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        alias: &str,
        version: Option<&str>,
    ) -> Result<()> {
        validate_alias(alias)?;
        let version = parse_version(version)?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.model_version_record(&storage.id, name, version)
            .await?;
        self.store
            .set_model_alias(&storage.id, name, alias, version)
            .await?;
        Ok(())
    }

    pub async fn delete_model_alias(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        alias: &str,
    ) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.registered_model_record(&storage.id, name).await?;
        if !self
            .store
            .delete_model_alias(&storage.id, name, alias)
            .await?
        {
            return Err(Error::NotFound(format!(
                "alias '{alias}' of registered model '{name}'"
            )));
        }
        Ok(())
    }

    pub async fn model_version_by_alias(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.registered_model_record(&storage.id, name).await?;
        let version = self
            .store
            .model_aliases(&storage.id, name)
            .await?
            .into_iter()
            .find(|(a, _)| a == alias)
            .map(|(_, version)| version)
            .ok_or_else(|| {
                Error::NotFound(format!("alias '{alias}' of registered model '{name}'"))
            })?;
        let record = self
            .model_version_record(&storage.id, name, version)
            .await?;
        self.version_view(&record).await
    }

    /// Where a version's files are: `runs:/RUN/path` becomes that run's artifact URI.
    pub async fn model_version_download_uri(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<String> {
        let version = self.model_version(rg, ws, name, version).await?;
        if let Some(rest) = version.source.strip_prefix("runs:/") {
            let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
            let run = parse_run_id("source", Some(run))?;
            let base = run_artifact_uri(run);
            return Ok(if path.is_empty() {
                base
            } else {
                format!("{base}/{path}")
            });
        }
        Ok(version.source)
    }
}
