//! What an MLflow run read and wrote beyond metrics: datasets and logged models as inputs,
//! logged models as outputs, and the older `log-model` record kept in a run tag.

use super::Services;
use super::tracking::{MAX_TAG_VALUE_CHARS, parse_run_id, required, validated_tags};
use crate::error::{Error, Result};
use casemate_store::RunIoRecord;
use casemate_types::wire::mlflow::KeyValue;
use casemate_types::wire::mlflow_io::{DatasetInput, LogInputs, LogModel, LogOutputs};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// MLflow's limits on a dataset and its input tags.
const MAX_DATASET_NAME: usize = 500;
const MAX_DATASET_DIGEST: usize = 36;
const MAX_DATASET_SOURCE: usize = 65_535;
const MAX_DATASET_SCHEMA: usize = 1_048_575;
const MAX_DATASET_PROFILE: usize = 16_384;
const MAX_INPUT_TAG_KEY: usize = 255;
const MAX_INPUT_TAG_VALUE: usize = 500;
/// At most this many datasets and models in one request.
const MAX_ITEMS: usize = 1_000;
/// The tag MLflow keeps `log-model` records in.
pub const LOG_MODEL_HISTORY_TAG: &str = "mlflow.log-model.history";
const INPUT: &str = "input";
const OUTPUT: &str = "output";
const DATASET: &str = "dataset";
const MODEL: &str = "model";
const CONTEXT_TAG: &str = "mlflow.data.context";

fn limit(field: &'static str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("may be at most {max} characters"),
        ));
    }
    Ok(())
}

fn checked_dataset(input: &DatasetInput) -> Result<RunIoRecord> {
    let dataset = &input.dataset;
    limit(
        "datasets.dataset.name",
        &dataset.name,
        MAX_DATASET_NAME,
        true,
    )?;
    limit(
        "datasets.dataset.digest",
        &dataset.digest,
        MAX_DATASET_DIGEST,
        true,
    )?;
    limit(
        "datasets.dataset.source_type",
        &dataset.source_type,
        256,
        true,
    )?;
    limit(
        "datasets.dataset.source",
        &dataset.source,
        MAX_DATASET_SOURCE,
        true,
    )?;
    let schema = dataset.schema.as_deref().unwrap_or("");
    limit("datasets.dataset.schema", schema, MAX_DATASET_SCHEMA, false)?;
    let profile = dataset.profile.as_deref().unwrap_or("");
    limit(
        "datasets.dataset.profile",
        profile,
        MAX_DATASET_PROFILE,
        false,
    )?;
    for tag in &input.tags {
        limit("datasets.tags.key", &tag.key, MAX_INPUT_TAG_KEY, true)?;
        limit(
            "datasets.tags.value",
            &tag.value,
            MAX_INPUT_TAG_VALUE,
            false,
        )?;
    }
    let context = input
        .tags
        .iter()
        .find(|tag| tag.key == CONTEXT_TAG)
        .map_or("", |tag| tag.value.as_str());
    Ok(RunIoRecord {
        direction: INPUT.to_owned(),
        kind: DATASET.to_owned(),
        // A dataset logged again in the same context is the same input. A JSON array keeps the
        // parts apart without a NUL, which PostgreSQL's text cannot hold.
        item_key: serde_json::to_string(&[dataset.name.as_str(), &dataset.digest, context])
            .map_err(Error::internal)?,
        body: serde_json::to_string(input).map_err(Error::internal)?,
    })
}

fn model_id(field: &'static str, id: &str) -> Result<()> {
    let well_formed = id
        .strip_prefix("m-")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(Error::invalid(
            field,
            "must be a logged model id: 'm-' and 32 hex digits",
        ));
    }
    Ok(())
}

fn too_many(field: &'static str, count: usize) -> Result<()> {
    if count > MAX_ITEMS {
        return Err(Error::invalid(
            field,
            format!("may hold at most {MAX_ITEMS} items"),
        ));
    }
    Ok(())
}

impl Services {
    /// A logged model of the workspace as a run's input or output; `body` as MLflow sent it.
    async fn model_item(
        &self,
        workspace_id: &str,
        direction: &str,
        id: &str,
        body: &impl serde::Serialize,
    ) -> Result<RunIoRecord> {
        model_id("models.model_id", id)?;
        self.logged_model_in(workspace_id, id).await?;
        Ok(RunIoRecord {
            direction: direction.to_owned(),
            kind: MODEL.to_owned(),
            item_key: id.to_owned(),
            body: serde_json::to_string(body).map_err(Error::internal)?,
        })
    }

    /// `runs/log-inputs`: datasets and logged models the run read.
    pub async fn mlflow_log_inputs(&self, rg: &str, ws: &str, request: &LogInputs) -> Result<()> {
        let run = parse_run_id("run_id", request.run_id.as_deref())?;
        too_many("datasets", request.datasets.len())?;
        too_many("models", request.models.len())?;
        let mut items = request
            .datasets
            .iter()
            .map(checked_dataset)
            .collect::<Result<Vec<_>>>()?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        for model in &request.models {
            let item = self.model_item(&storage.id, INPUT, &model.model_id, model);
            items.push(item.await?);
        }
        self.store.add_run_io(run, &items).await?;
        Ok(())
    }

    /// `runs/outputs`: logged models the run produced.
    pub async fn mlflow_log_outputs(&self, rg: &str, ws: &str, request: &LogOutputs) -> Result<()> {
        let run = parse_run_id("run_id", request.run_id.as_deref())?;
        too_many("models", request.models.len())?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let mut items = Vec::with_capacity(request.models.len());
        for model in &request.models {
            let item = self.model_item(&storage.id, OUTPUT, &model.model_id, model);
            items.push(item.await?);
        }
        self.store.add_run_io(run, &items).await?;
        Ok(())
    }

    /// `runs/log-model`: appends the MLmodel record to the run's history tag, as MLflow's
    /// server does, dropping the oldest records when the tag would outgrow its limit.
    pub async fn mlflow_log_model(&self, rg: &str, ws: &str, request: &LogModel) -> Result<()> {
        let run = parse_run_id("run_id", request.run_id.as_deref())?;
        let text = required("model_json", request.model_json.as_deref())?;
        let model: Value = serde_json::from_str(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Error::invalid("model_json", "must be a JSON object"))?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let mut history: Vec<Value> = self
            .store
            .run_tags(run)
            .await?
            .into_iter()
            .find(|(name, _)| name == LOG_MODEL_HISTORY_TAG)
            .and_then(|(_, value)| serde_json::from_str(&value).ok())
            .unwrap_or_default();
        history.push(model);
        let mut value = serde_json::to_string(&history).map_err(Error::internal)?;
        while value.chars().count() > MAX_TAG_VALUE_CHARS && history.len() > 1 {
            history.remove(0);
            value = serde_json::to_string(&history).map_err(Error::internal)?;
        }
        let tag = KeyValue {
            key: LOG_MODEL_HISTORY_TAG.to_owned(),
            value,
        };
        let tags = validated_tags("model_json", &[tag])?;
        self.store.set_run_tags(run, &tags).await?;
        Ok(())
    }

    /// A run's `inputs` and `outputs` as MLflow's Run message holds them.
    pub(super) async fn mlflow_run_io(
        &self,
        run: Uuid,
    ) -> Result<(Map<String, Value>, Map<String, Value>)> {
        io_maps(&self.store.run_io(run).await?)
    }
}

/// `inputs` and `outputs` of MLflow's Run message, from a run's items in the order logged.
pub(super) fn io_maps(items: &[RunIoRecord]) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let mut datasets = Vec::new();
    let mut model_inputs = Vec::new();
    let mut model_outputs = Vec::new();
    for item in items {
        let body: Value = serde_json::from_str(&item.body).map_err(Error::internal)?;
        match (item.direction.as_str(), item.kind.as_str()) {
            (INPUT, DATASET) => datasets.push(body),
            (INPUT, MODEL) => model_inputs.push(body),
            (OUTPUT, MODEL) => model_outputs.push(body),
            _ => {}
        }
    }
    let mut inputs = Map::new();
    if !datasets.is_empty() {
        inputs.insert("dataset_inputs".into(), json!(datasets));
    }
    if !model_inputs.is_empty() {
        inputs.insert("model_inputs".into(), json!(model_inputs));
    }
    let mut outputs = Map::new();
    if !model_outputs.is_empty() {
        outputs.insert("model_outputs".into(), json!(model_outputs));
    }
    Ok((inputs, outputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use casemate_types::wire::mlflow_io::Dataset;

    fn input(dataset: Dataset) -> DatasetInput {
        DatasetInput {
            tags: vec![KeyValue {
                key: CONTEXT_TAG.into(),
                value: "training".into(),
            }],
            dataset,
        }
    }

    #[test]
    fn datasets_are_checked_field_by_field() {
        let good = Dataset {
            name: "iris".into(),
            digest: "abc123".into(),
            source_type: "code".into(),
            source: "{}".into(),
            schema: None,
            profile: None,
        };
        assert!(checked_dataset(&input(good.clone())).is_ok());
        for (dataset, field) in [
            (
                Dataset {
                    name: String::new(),
                    ..good.clone()
                },
                "datasets.dataset.name",
            ),
            (
                Dataset {
                    digest: "x".repeat(37),
                    ..good.clone()
                },
                "datasets.dataset.digest",
            ),
            (
                Dataset {
                    source_type: String::new(),
                    ..good.clone()
                },
                "datasets.dataset.source_type",
            ),
            (
                Dataset {
                    profile: Some("p".repeat(16_385)),
                    ..good.clone()
                },
                "datasets.dataset.profile",
            ),
        ] {
            match checked_dataset(&input(dataset)) {
                Err(Error::InvalidInput { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn model_ids_have_mlflows_form() {
        assert!(model_id("m", &format!("m-{}", "a".repeat(32))).is_ok());
        for bad in ["", "m-", "x-0123", &format!("m-{}", "g".repeat(32))] {
            assert!(model_id("m", bad).is_err(), "{bad}");
        }
    }
}
