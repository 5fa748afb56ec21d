"""Inside a run submitted through casemate: the run token and MLFLOW_RUN_ID are already set."""

import mlflow

with mlflow.start_run() as run:
    mlflow.log_metric("inside", 7.0, step=1)
    mlflow.log_param("from", "inside")
print("logged to", run.info.run_id)
