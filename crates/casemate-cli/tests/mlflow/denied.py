"""What a caller without write access (or without any valid credential) sees in the client."""

import sys

import mlflow
from mlflow.exceptions import MlflowException

expect = sys.argv[1]
if expect == "reader":
    runs = mlflow.search_runs(experiment_names=["digits"], output_format="list")
    assert runs, "a Reader can search"
    try:
        with mlflow.start_run(run_id=runs[0].info.run_id):
            mlflow.log_metric("accuracy", 1.0)
        raise AssertionError("a Reader logged a metric")
    except MlflowException as error:
        assert error.error_code == "PERMISSION_DENIED", (error.error_code, error.message)
        assert "workspaces/experiments/runs/write" in error.message, error.message
elif expect == "unauthenticated":
    try:
        mlflow.search_runs(experiment_names=["digits"], output_format="list")
        raise AssertionError("a bad token searched")
    except MlflowException as error:
        assert error.error_code == "UNAUTHENTICATED", (error.error_code, error.message)
elif expect == "other-workspace":
    try:
        mlflow.search_runs(experiment_names=["digits"], output_format="list")
        raise AssertionError("a token for another workspace searched")
    except MlflowException as error:
        assert error.error_code == "PERMISSION_DENIED", (error.error_code, error.message)
elif expect == "not-here":
    try:
        mlflow.get_run(sys.argv[2])
        raise AssertionError("a run from another workspace was found here")
    except MlflowException as error:
        assert error.error_code == "RESOURCE_DOES_NOT_EXIST", (error.error_code, error.message)
print("ok")
