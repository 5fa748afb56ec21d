"""Trains an iris classifier and registers it as `iris` with the full mlflow client, as an ML
team does before deploying it; prints the registered version."""

import mlflow
import mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
mlflow.set_experiment("iris-serving")
with mlflow.start_run():
    model = LogisticRegression(max_iter=300).fit(X, y)
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name="iris", input_example=X.head(2)
    )
print(info.registered_model_version)
