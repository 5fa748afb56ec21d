//! Models a tracking client logs (MLflow 3's LoggedModel): a named, typed model in an
//! experiment, maybe from a run, with params and tags, whose files are the workspace artifacts
//! under `models/{id}/artifacts`.

use super::Services;
use super::search_filter::{self, Entity, Field, SortKey};
use super::tracking::{
    key_values, max_results, paginate, parse_bare_filter, parse_run_id, required, tag_field,
    validated_params, validated_tags,
};
use crate::error::{Error, Result};
use casemate_store::LoggedModelRecord;
use casemate_types::clock::unix_millis;
use casemate_types::wire::mlflow::{
    CreateLoggedModel, KeyValue, LoggedModel, LoggedModelData, LoggedModelInfo, SearchLoggedModels,
    SearchLoggedModelsResponse, UpdateLoggedModel,
};
use std::collections::BTreeMap;
use uuid::Uuid;

const PENDING: &str = "LOGGED_MODEL_PENDING";
const STATUSES: [&str; 3] = [PENDING, "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

fn json_map(text: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(Error::internal)
}

fn model_field(model: &LoggedModel, entity: Entity, key: &str) -> Option<Field> {
    let info = &model.info;
    let text = |v: &str| Some(Field::Text(v.to_owned()));
    match (entity, key) {
        (Entity::Attribute, "name") => text(&info.name),
        (Entity::Attribute, "model_id") => text(&info.model_id),
        (Entity::Attribute, "model_type") => text(&info.model_type),
        (Entity::Attribute, "status") => text(&info.status),
        (Entity::Attribute, "source_run_id") => text(&info.source_run_id),
        (Entity::Attribute, "experiment_id") => text(&info.experiment_id),
        (Entity::Attribute, "creation_timestamp" | "creation_time") => {
            Some(Field::Number(info.creation_timestamp_ms as f64))
        }
        (Entity::Attribute, "last_updated_timestamp") => {
            Some(Field::Number(info.last_updated_timestamp_ms as f64))
        }
        (Entity::Tag, key) => tag_field(&info.tags, key),
        (Entity::Param, key) => model
            .data
            .params
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| text(&p.value)),
        _ => None,
    }
}

impl Services {
    async fn logged_model_view(&self, record: &LoggedModelRecord) -> Result<LoggedModel> {
        let experiment = self
            .mlflow_experiment_id_of(&record.workspace_id, &record.experiment)
            .await?;
        Ok(LoggedModel {
            info: LoggedModelInfo {
                model_id: record.id.clone(),
                experiment_id: experiment,
                name: record.name.clone(),
                creation_timestamp_ms: record.created_at,
                last_updated_timestamp_ms: record.updated_at,
                artifact_uri: format!("mlflow-artifacts:/models/{}/artifacts", record.id),
                status: record.status.clone(),
                model_type: record.model_type.clone(),
                source_run_id: record.source_run_id.clone(),
                tags: key_values(json_map(&record.tags)?),
            },
            data: LoggedModelData {
                params: key_values(json_map(&record.params)?),
            },
        })
    }

    pub(super) async fn logged_model_in(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<LoggedModelRecord> {
        self.store
            .logged_model(id)
            .await?
            .filter(|m| m.workspace_id.eq_ignore_ascii_case(workspace_id))
            .ok_or_else(|| Error::NotFound(format!("logged model '{id}'")))
    }

    pub async fn create_logged_model(
        &self,
        rg: &str,
        ws: &str,
        request: &CreateLoggedModel,
    ) -> Result<LoggedModel> {
        let experiment_id = required("experiment_id", request.experiment_id.as_deref())?;
        let storage = self.workspace_storage(rg, ws).await?;
        let experiment = self.mlflow_experiment(rg, ws, experiment_id).await?;
        let source_run_id = match request.source_run_id.as_deref().filter(|r| !r.is_empty()) {
            Some(run) => {
                let run = parse_run_id("source_run_id", Some(run))?;
                self.run_in(&storage, run).await?;
                run.simple().to_string()
            }
            None => String::new(),
        };
        let id = format!("m-{}", Uuid::new_v4().simple());
        let name = request
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone());
        if name.chars().count() > 256 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must be at most 256 characters without control characters",
            ));
        }
        let params: BTreeMap<String, String> =
            validated_params(&request.params)?.into_iter().collect();
        let tags: BTreeMap<String, String> =
            validated_tags("tags", &request.tags)?.into_iter().collect();
        let now = unix_millis(self.now());
        let record = LoggedModelRecord {
            id,
            workspace_id: storage.id.clone(),
            experiment: experiment.name,
            name,
            model_type: request.model_type.clone().unwrap_or_default(),
            source_run_id,
            status: PENDING.to_owned(),
            params: serde_json::to_string(&params).map_err(Error::internal)?,
            tags: serde_json::to_string(&tags).map_err(Error::internal)?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_logged_model(&record).await?;
        self.logged_model_view(&record).await
    }

    pub async fn get_logged_model(&self, rg: &str, ws: &str, id: &str) -> Result<LoggedModel> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.logged_model_in(&storage.id, id).await?;
        self.logged_model_view(&record).await
    }

    /// Finalizes (a new `status`) and/or adds tags.
    pub async fn update_logged_model(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        request: &UpdateLoggedModel,
    ) -> Result<LoggedModel> {
        let status = match request.status.as_deref() {
            Some(status) => Some(STATUSES.into_iter().find(|s| *s == status).ok_or_else(|| {
                Error::invalid("status", format!("must be one of {}", STATUSES.join(", ")))
            })?),
            None => None,
        };
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.logged_model_in(&storage.id, id).await?;
        let mut tags = json_map(&record.tags)?;
        tags.extend(validated_tags("tags", &request.tags)?);
        let tags = serde_json::to_string(&tags).map_err(Error::internal)?;
        self.store
            .update_logged_model(
                id,
                status.unwrap_or(&record.status),
                &tags,
                unix_millis(self.now()),
            )
            .await?;
        self.get_logged_model(rg, ws, id).await
    }

    pub async fn search_logged_models(
        &self,
        rg: &str,
        ws: &str,
        request: &SearchLoggedModels,
    ) -> Result<SearchLoggedModelsResponse> {
        let clauses = parse_bare_filter(request.filter.as_deref())?;
        let limit = max_results(request.max_results, 100, 1000)?;
        let mut order = request
            .order_by
            .iter()
            .map(|o| {
                let (entity, key) = match o.field_name.split_once('.') {
                    Some(("metrics", _)) => {
                        return Err(Error::invalid(
                            "order_by",
                            "logged models have no metrics here",
                        ));
                    }
                    Some(("params", key)) => (Entity::Param, key),
                    Some(("tags", key)) => (Entity::Tag, key),
                    _ => (
                        Entity::Attribute,
                        o.field_name.trim_start_matches("attributes."),
                    ),
                };
                Ok(SortKey {
                    entity,
                    key: key.to_owned(),
                    ascending: o.ascending.unwrap_or(true),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        order.push(SortKey::attribute("creation_timestamp", false));
        order.push(SortKey::attribute("model_id", true));
        let storage = self.workspace_storage(rg, ws).await?;
        let mut models = Vec::new();
        for record in self.store.logged_models(&storage.id).await? {
            let model = self.logged_model_view(&record).await?;
            if request.experiment_ids.is_empty()
                || request.experiment_ids.contains(&model.info.experiment_id)
            {
                models.push(model);
            }
        }
        let found = search_filter::select(models, &clauses, &order, model_field);
        let (models, next_page_token) = paginate(found, request.page_token.as_deref(), limit)?;
        Ok(SearchLoggedModelsResponse {
            models,
            next_page_token,
        })
    }
}

impl Services {
    /// Deletes one tag of a logged model; 404 when it has none by that key.
    pub async fn delete_logged_model_tag(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.logged_model_in(&storage.id, id).await?;
        let mut tags = json_map(&record.tags)?;
        if tags.remove(key).is_none() {
            return Err(Error::NotFound(format!(
                "tag '{key}' of logged model '{id}'"
            )));
        }
        let tags = serde_json::to_string(&tags).map_err(Error::internal)?;
        self.store
            .set_logged_model_items(id, &tags, &record.params, unix_millis(self.now()))
            .await?;
        Ok(())
    }

    /// Logs params on a logged model. Params are write-once, as a run's are: logging a key
    /// again with another value is refused, and nothing of the request is kept.
    pub async fn log_logged_model_params(
        &self,
        rg: &str,
        ws: &str,
        id: &str,
        params: &[KeyValue],
    ) -> Result<()> {
        let given = validated_params(params)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.logged_model_in(&storage.id, id).await?;
        let mut kept = json_map(&record.params)?;
        for (key, value) in given {
            match kept.get(&key) {
                Some(old) if *old != value => {
                    return Err(Error::invalid(
                        "params",
                        format!(
                            "'{key}' is already logged with another value; params are write-once"
                        ),
                    ));
                }
                _ => {
                    kept.insert(key, value);
                }
            }
        }
        let params = serde_json::to_string(&kept).map_err(Error::internal)?;
        self.store
            .set_logged_model_items(id, &record.tags, &params, unix_millis(self.now()))
            .await?;
        Ok(())
    }
}
