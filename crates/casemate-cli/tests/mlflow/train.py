"""A training script as a team writes it, run with the unmodified `mlflow` client against
casemate. Exits non-zero (with the failing assertion) if anything is not as MLflow promises."""

import filecmp
import os
import pathlib
import sys
import tempfile

import mlflow
from mlflow import MlflowClient

work = pathlib.Path(tempfile.mkdtemp())
(work / "notes.txt").write_text("trained on the digits set\n")
model_dir = work / "model"
model_dir.mkdir()
(model_dir / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
(model_dir / "weights.bin").write_bytes(os.urandom(300_000))
(model_dir / "nested").mkdir()
(model_dir / "nested" / "config.json").write_text('{"layers": 3}')

experiment = mlflow.set_experiment("digits")
assert mlflow.get_experiment_by_name("digits").experiment_id == experiment.experiment_id

with mlflow.start_run(run_name="baseline") as run:
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"epochs": 3, "batch_size": 32})
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"accuracy": 0.93, "f1": 0.9}, step=2)
    mlflow.set_tag("team", "vision")
    mlflow.set_tags({"stage": "dev", "dataset": "digits"})
    mlflow.log_artifact(str(work / "notes.txt"))
    mlflow.log_artifacts(str(model_dir), artifact_path="model")
    run_id = run.info.run_id

with mlflow.start_run(run_name="worse"):
    mlflow.log_param("lr", 0.5)
    mlflow.log_metric("accuracy", 0.41)

client = MlflowClient()
finished = client.get_run(run_id)
assert finished.info.status == "FINISHED", finished.info.status
assert finished.info.run_name == "baseline"
assert finished.data.params == {"lr": "0.01", "epochs": "3", "batch_size": "32"}, finished.data.params
assert finished.data.metrics["loss"] == 1.0 / 3, finished.data.metrics
assert finished.data.tags["team"] == "vision"

found = mlflow.search_runs(
    experiment_names=["digits"],
    filter_string="metrics.accuracy > 0.5 and params.lr = '0.01' and tags.team = 'vision'",
    output_format="list",
)
assert [r.info.run_id for r in found] == [run_id], found
ordered = mlflow.search_runs(
    experiment_names=["digits"], order_by=["metrics.accuracy ASC"], output_format="list"
)
assert [r.data.metrics["accuracy"] for r in ordered] == [0.41, 0.93], ordered
try:
    mlflow.search_runs(experiment_names=["digits"], filter_string="metrics.accuracy >> 1")
    raise AssertionError("a malformed filter was accepted")
except mlflow.exceptions.MlflowException as error:
    assert error.error_code == "INVALID_PARAMETER_VALUE", error.error_code
    assert "filter" in error.message, error.message

history = client.get_metric_history(run_id, "loss")
assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)], history

listed = sorted(f.path for f in client.list_artifacts(run_id))
assert listed == ["model", "notes.txt"], listed
nested = sorted(f.path for f in client.list_artifacts(run_id, "model"))
assert nested == ["model/MLmodel", "model/nested", "model/weights.bin"], nested

version = mlflow.register_model(f"runs:/{run_id}/model", "digits-classifier")
assert version.version == "1", version
client.set_registered_model_alias("digits-classifier", "champion", version.version)
champion = client.get_model_version_by_alias("digits-classifier", "champion")
assert champion.version == "1" and champion.run_id == run_id, champion
client.transition_model_version_stage("digits-classifier", "1", "Staging")
latest = client.get_latest_versions("digits-classifier", stages=["Staging"])
assert [v.version for v in latest] == ["1"], latest
assert [m.name for m in client.search_registered_models()] == ["digits-classifier"]
assert [v.version for v in client.search_model_versions("name = 'digits-classifier'")] == ["1"]

downloaded = pathlib.Path(
    mlflow.artifacts.download_artifacts("models:/digits-classifier@champion", dst_path=str(work / "dl"))
)
for name in ["MLmodel", "weights.bin", "nested/config.json"]:
    assert filecmp.cmp(model_dir / name, downloaded / name, shallow=False), name
from_run = pathlib.Path(client.download_artifacts(run_id, "notes.txt", str(work / "dl2")))
assert from_run.read_text() == "trained on the digits set\n"

print(run_id)
sys.exit(0)
