"""A Reader of the workspace with the full `mlflow` package: every read of full_client.py works,
every write is refused with MLflow's PERMISSION_DENIED naming the action."""

import sys

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris

experiment_id, run_id = sys.argv[1], sys.argv[2]
client = MlflowClient()
X, _ = load_iris(return_X_y=True, as_frame=True)

assert client.get_experiment(experiment_id).name == "iris-renamed"
assert client.get_run(run_id).data.params["C"] == "1.0"
assert len(client.get_metric_history(run_id, "loss")) == 100
assert client.get_registered_model("iris").aliases == {"champion": "1"}
assert [v.version for v in client.search_model_versions("name='iris'")] == ["1"]
assert len(client.search_runs([experiment_id])) == 2
loaded = mlflow.pyfunc.load_model("models:/iris@champion")
assert len(loaded.predict(X.head(3))) == 3


def refused(action, call):
    try:
        call()
    except MlflowException as error:
        assert error.error_code == "PERMISSION_DENIED", (error.error_code, error.message)
        assert action in error.message, error.message
        return
    raise AssertionError(f"a Reader was allowed: {call}")


runs_write = "workspaces/experiments/runs/write"
models_write = "workspaces/models/write"
refused(runs_write, lambda: client.rename_experiment(experiment_id, "mine"))
refused(runs_write, lambda: client.log_metric(run_id, "loss", 0.5))
refused(runs_write, lambda: client.log_inputs(run_id, datasets=[]))
refused(runs_write, lambda: client.create_experiment("readers-own"))
refused(models_write, lambda: client.update_registered_model("iris", description="x"))
refused(models_write, lambda: client.set_registered_model_tag("iris", "k", "v"))
refused(models_write, lambda: client.update_model_version("iris", "1", description="x"))
refused(models_write, lambda: client.set_model_version_tag("iris", "1", "k", "v"))
refused(models_write, lambda: client.set_registered_model_alias("iris", "mine", "1"))
refused("workspaces/models/delete", lambda: client.delete_model_version("iris", "1"))
refused("workspaces/models/delete", lambda: client.delete_registered_model("iris"))
print("ok")
