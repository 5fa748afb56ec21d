//! MLflow's REST shapes (`mlflow/protos/service.proto`, `model_registry.proto`,
//! `mlflow_artifacts.proto`), as the `mlflow` client sends and reads them: snake_case fields,
//! int64 as numbers (strings accepted too), doubles as numbers or "NaN" / "Infinity".
//! Requests ignore unknown fields, since newer clients add them.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// MLflow's error body: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlflowError {
    pub error_code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A JSON number or string, read in one pass (an untagged enum would buffer each value and
/// build an error for every variant that does not fit).
enum NumberOrText {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for NumberOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = NumberOrText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(NumberOrText::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(NumberOrText::Float(v as f64), NumberOrText::Integer))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(NumberOrText::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NumberOrText::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    match Option::<NumberOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrText::Integer(n)) => Ok(Some(n)),
        Some(NumberOrText::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(NumberOrText::Float(f)) => Err(de::Error::custom(format!("{f} is not an integer"))),
        Some(NumberOrText::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("'{text}' is not an integer"))),
    }
}

fn lenient_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    match Option::<NumberOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrText::Integer(n)) => Ok(Some(n as f64)),
        Some(NumberOrText::Float(f)) => Ok(Some(f)),
        Some(NumberOrText::Text(text)) => match text.trim() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            other => other
                .parse()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("'{text}' is not a number"))),
        },
    }
}

/// Doubles as proto3 JSON writes them: non-finite values as strings.
fn proto_f64<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if value.is_infinite() {
        serializer.serialize_str(if *value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        })
    } else {
        serializer.serialize_f64(*value)
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrText {
        Bool(bool),
        Text(String),
    }
    match Option::<BoolOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(BoolOrText::Bool(b)) => Ok(Some(b)),
        Some(BoolOrText::Text(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(de::Error::custom(format!("'{text}' is not true or false"))),
        },
    }
}

// ---- Tracking: experiments ----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub last_update_time: i64,
    pub creation_time: i64,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateExperiment {
    pub name: Option<String>,
    pub artifact_location: Option<String>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentRef {
    pub experiment_id: Option<String>,
    pub experiment_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentTag {
    pub experiment_id: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchExperiments {
    #[serde(deserialize_with = "lenient_i64")]
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchExperimentsResponse {
    pub experiments: Vec<Experiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

// ---- Tracking: runs ----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Metric {
    pub key: String,
    #[serde(
        serialize_with = "proto_f64",
        deserialize_with = "lenient_f64_required"
    )]
    pub value: f64,
    #[serde(deserialize_with = "lenient_i64_required")]
    pub timestamp: i64,
    #[serde(deserialize_with = "lenient_i64_required")]
    pub step: i64,
}

fn lenient_f64_required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    lenient_f64(deserializer)?.ok_or_else(|| de::Error::custom("a number is required"))
}

fn lenient_i64_required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(lenient_i64(deserializer)?.unwrap_or(0))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunData {
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: serde_json::Map<String, serde_json::Value>,
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateRun {
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
    pub run_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateRun {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// Any request that names a run (`run_id`, or the older `run_uuid`) and maybe a key and value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunItem {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogMetric {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
    pub key: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    pub value: Option<f64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub step: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogBatch {
    pub run_id: Option<String>,
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchRuns {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub run_view_type: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricHistoryQuery {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
    pub metric_key: Option<String>,
    pub page_token: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRunsResponse {
    pub runs: Vec<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetricHistoryResponse {
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

// ---- Artifacts ----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListArtifactsResponse {
    pub files: Vec<FileInfo>,
}

// ---- Model registry ----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub user_id: String,
    pub current_stage: String,
    pub description: String,
    pub source: String,
    pub run_id: String,
    pub status: String,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub user_id: String,
    pub description: String,
    pub latest_versions: Vec<ModelVersion>,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<ModelAlias>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateRegisteredModel {
    pub name: Option<String>,
    pub tags: Vec<KeyValue>,
    pub description: Option<String>,
}

/// Registry requests that name a model, maybe a version, alias or stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelRef {
    pub name: Option<String>,
    pub version: Option<String>,
    pub alias: Option<String>,
    pub stage: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub archive_existing_versions: Option<bool>,
    pub stages: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchRegistry {
    pub filter: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateModelVersion {
    pub name: Option<String>,
    pub source: Option<String>,
    pub run_id: Option<String>,
    pub tags: Vec<KeyValue>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRegisteredModelsResponse {
    pub registered_models: Vec<RegisteredModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelVersionsResponse {
    pub model_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

// ---- Logged models (MLflow 3) ----

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: String,
    pub model_type: String,
    pub source_run_id: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedModelData {
    pub params: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateLoggedModel {
    pub experiment_id: Option<String>,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// Finalize (`status`) and set-tags (`tags`) requests; the model id is in the path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateLoggedModel {
    pub status: Option<String>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggedModelOrder {
    pub field_name: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub ascending: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchLoggedModels {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_results: Option<i64>,
    pub order_by: Vec<LoggedModelOrder>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchLoggedModelsResponse {
    pub models: Vec<LoggedModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_arrive_as_numbers_or_strings_and_non_finite_doubles_as_strings() {
        let metric: LogMetric = serde_json::from_str(
            r#"{"run_id":"r","key":"k","value":"NaN","timestamp":"1700000000000","step":3}"#,
        )
        .unwrap();
        assert!(metric.value.unwrap().is_nan());
        assert_eq!(metric.timestamp, Some(1_700_000_000_000));
        assert_eq!(metric.step, Some(3));
        let bad = serde_json::from_str::<LogMetric>(r#"{"value":"lots"}"#).unwrap_err();
        assert!(bad.to_string().contains("'lots' is not a number"), "{bad}");
        let shown = serde_json::to_string(&Metric {
            key: "k".into(),
            value: f64::NEG_INFINITY,
            timestamp: 1,
            step: 0,
        })
        .unwrap();
        assert!(shown.contains(r#""value":"-Infinity""#), "{shown}");
    }
}
