//! MLflow's shapes for what a run reads and writes beyond metrics (datasets and models as
//! inputs, models as outputs, the older log-model record) and for changing registry entries
//! and experiments after they were made.

use super::mlflow::{KeyValue, lenient_i64};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetInput {
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelInput {
    pub model_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub step: Option<i64>,
}

/// `runs/log-inputs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogInputs {
    pub run_id: Option<String>,
    pub datasets: Vec<DatasetInput>,
    pub models: Vec<ModelInput>,
}

/// `runs/outputs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogOutputs {
    pub run_id: Option<String>,
    pub models: Vec<ModelOutput>,
}

/// `runs/log-model`: the MLmodel file's content as JSON text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogModel {
    pub run_id: Option<String>,
    pub model_json: Option<String>,
}

/// `experiments/update`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateExperiment {
    pub experiment_id: Option<String>,
    pub new_name: Option<String>,
}

/// Registry changes: `registered-models/update|rename|delete|set-tag|delete-tag` and
/// `model-versions/update|delete|set-tag|delete-tag`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryChange {
    pub name: Option<String>,
    pub new_name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// `logged-models/{id}/params`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedModelParams {
    pub model_id: Option<String>,
    pub params: Vec<KeyValue>,
}
