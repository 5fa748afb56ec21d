"""What an ML team does with the full `mlflow` package, unchanged, against a casemate workspace:
params and metrics, log_model with registration, a dataset input, autolog, renames, registry
descriptions, tags and aliases, loading a model by alias, deleting a version, and search_*.
Every step checks what came back. Prints the names and ids the Rust test checks natively."""

import json

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
client = MlflowClient()
experiment = mlflow.set_experiment("iris-exp")

with mlflow.start_run(run_name="manual") as run:
    mlflow.log_params({"C": 1.0, "max_iter": 200})
    for step in range(100):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    model = LogisticRegression(C=1.0, max_iter=200).fit(X, y)
    frame = X.copy()
    frame["target"] = y
    dataset = mlflow.data.from_pandas(frame, name="iris", targets="target")
    mlflow.log_input(dataset, context="training")
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="iris")
assert str(info.registered_model_version) == "1", info.registered_model_version

manual = client.get_run(run.info.run_id)
assert manual.info.status == "FINISHED", manual.info.status
assert manual.data.params == {"C": "1.0", "max_iter": "200"}, manual.data.params
history = client.get_metric_history(run.info.run_id, "loss")
assert [m.step for m in history] == list(range(100)), [m.step for m in history]
assert abs(history[-1].value - 0.01) < 1e-12, history[-1].value
inputs = manual.inputs.dataset_inputs
assert [(d.dataset.name, d.dataset.digest) for d in inputs] == [("iris", dataset.digest)], inputs
assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]
assert json.loads(inputs[0].dataset.schema)["mlflow_colspec"], inputs[0].dataset.schema
outputs = manual.outputs.model_outputs
assert [o.model_id for o in outputs] == [info.model_id], (outputs, info.model_id)

# Autolog a second fit: its metrics and its model are recorded.
mlflow.sklearn.autolog()
with mlflow.start_run(run_name="autologged") as auto:
    LogisticRegression(C=0.5, max_iter=300).fit(X, y)
mlflow.sklearn.autolog(disable=True)
autologged = client.get_run(auto.info.run_id)
assert "training_accuracy_score" in autologged.data.metrics, autologged.data.metrics
assert autologged.data.params["C"] == "0.5", autologged.data.params
auto_models = autologged.outputs.model_outputs
assert len(auto_models) == 1, auto_models
assert client.get_logged_model(auto_models[0].model_id).source_run_id == auto.info.run_id

# Renaming keeps the id and the runs.
client.rename_experiment(experiment.experiment_id, "iris-renamed")
renamed = client.get_experiment(experiment.experiment_id)
assert renamed.name == "iris-renamed", renamed.name
assert client.get_experiment_by_name("iris-exp") is None
assert client.get_run(run.info.run_id).info.experiment_id == experiment.experiment_id

# Registry: descriptions, tags, an alias.
client.update_registered_model("iris", description="iris classifier")
client.set_registered_model_tag("iris", "team", "vision")
client.update_model_version("iris", "1", description="first fit")
client.set_model_version_tag("iris", "1", "validated", "yes")
client.set_registered_model_alias("iris", "champion", "1")
registered = client.get_registered_model("iris")
assert registered.description == "iris classifier", registered.description
assert registered.tags == {"team": "vision"}, registered.tags
assert registered.aliases == {"champion": "1"}, registered.aliases
version = client.get_model_version("iris", "1")
assert version.description == "first fit", version.description
assert version.tags == {"validated": "yes"}, version.tags
assert version.run_id == run.info.run_id, version.run_id

# Load by alias and predict: the same answers as the model in memory.
loaded = mlflow.pyfunc.load_model("models:/iris@champion")
expected = model.predict(X.head(5))
assert np.array_equal(loaded.predict(X.head(5)), expected), (loaded.predict(X.head(5)), expected)

# A second version, then deleted.
second = client.create_model_version("iris", info.model_uri, run_id=run.info.run_id)
assert second.version == "2", second.version
client.delete_model_version("iris", "2")
try:
    client.get_model_version("iris", "2")
    raise AssertionError("a deleted version was found")
except MlflowException as error:
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST", error.error_code
client.delete_model_version_tag("iris", "1", "validated")
assert client.get_model_version("iris", "1").tags == {}

# Everything lists back.
assert [m.name for m in client.search_registered_models()] == ["iris"]
assert [v.version for v in client.search_model_versions("name='iris'")] == ["1"]
names = sorted(e.name for e in client.search_experiments())
assert "iris-renamed" in names and "iris-exp" not in names, names
found = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
assert [r.info.run_name for r in found] == ["manual", "autologged"], [r.info.run_name for r in found]
assert found[0].data.metrics["loss"] == 0.01, found[0].data.metrics
assert [d.dataset.name for d in found[0].inputs.dataset_inputs] == ["iris"], found[0].inputs
assert [o.model_id for o in found[0].outputs.model_outputs] == [info.model_id], found[0].outputs
models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
assert {m.model_id for m in models} == {info.model_id, auto_models[0].model_id}, models

# A feature casemate lacks answers clearly, not "route not found".
try:
    client.search_traces(locations=[experiment.experiment_id])
    raise AssertionError("traces were searched")
except MlflowException as error:
    assert error.error_code == "NOT_IMPLEMENTED", (error.error_code, error.message)
    assert "tracing" in error.message, error.message

# Traced code still runs; its spans are refused by the server with that message (a warning).
@mlflow.trace
def traced(value):
    return value + 1


with mlflow.start_run(run_name="traced"):
    assert traced(1) == 2
    with mlflow.start_span("step") as span:
        span.set_inputs({"a": 1})
client.delete_run(client.search_runs([experiment.experiment_id], "attributes.run_name = 'traced'")[0].info.run_id)

print(json.dumps({"experiment_id": experiment.experiment_id, "run_id": run.info.run_id,
                  "auto_run_id": auto.info.run_id, "model_id": info.model_id}))
