"""Models and web services in the seed platform's shapes:

    model = Model.register(ws, model_path="outputs/model.pkl", model_name="sklearn-model")
    config = InferenceConfig(entry_script="score.py", source_directory=".")
    deployment = Webservice.deploy_configuration(auth_enabled=True)
    service = Model.deploy(ws, "my-service", [model], config, deployment)
    service.wait_for_deployment()
    service.run(json.dumps({"data": [[1, 2, 3]]}))
    primary, secondary = service.get_keys()

Without an ``InferenceConfig`` (``inference_config=None``) an MLflow model is served as
``mlflow models serve`` would serve it.
"""

import json
import os
import time
import uuid

from ._http import CasemateError
from .core import archive_directory


def _mlflow(workspace, method, endpoint, body=None, query=None):
    path = "/mlflow" + workspace._path() + "/api/2.0/mlflow/" + endpoint
    return workspace._connection.request(method, path, body=body, query=query)


def _files_under(model_path):
    if os.path.isfile(model_path):
        return [(os.path.basename(model_path), model_path)]
    found = []
    for root, _dirs, files in os.walk(model_path):
        for name in sorted(files):
            full = os.path.join(root, name)
            found.append((os.path.relpath(full, model_path).replace(os.sep, "/"), full))
    if not found:
        raise ValueError(f"model_path {model_path!r} holds no files")
    return found


class Model:
    """A registered model version of a workspace."""

    def __init__(self, workspace, name, version=None):
        self.workspace = workspace
        self.name = name
        if version is None:
            found = _mlflow(workspace, "POST", "registered-models/get-latest-versions",
                            {"name": name})
            versions = [int(v["version"]) for v in found.get("model_versions", [])]
            if not versions:
                raise CasemateError(404, "NotFound", f"registered model '{name}' has no versions")
            version = max(versions)
        self.version = int(version)

    def __repr__(self):
        return f"Model(name={self.name!r}, version={self.version})"

    @classmethod
    def register(cls, workspace, model_path, model_name, description=None, tags=None):
        """Uploads the file or directory at ``model_path`` (sealed, as every artifact) and
        registers it as the next version of ``model_name``."""
        prefix = f"models/{model_name}/{uuid.uuid4().hex}"
        for relative, full in _files_under(model_path):
            with open(full, "rb") as handle:
                parts = [*prefix.split("/"), *relative.split("/")]
                workspace._request("PUT", "artifacts", *parts, raw=handle.read(),
                                   content_type="application/octet-stream")
        try:
            _mlflow(workspace, "GET", "registered-models/get", query={"name": model_name})
        except CasemateError as error:
            if error.status != 404:
                raise
            _mlflow(workspace, "POST", "registered-models/create", {"name": model_name})
        request = {"name": model_name, "source": f"mlflow-artifacts:/{prefix}"}
        if description:
            request["description"] = description
        if tags:
            request["tags"] = [{"key": k, "value": str(v)} for k, v in tags.items()]
        created = _mlflow(workspace, "POST", "model-versions/create", request)
        return cls(workspace, model_name, created["model_version"]["version"])

    @staticmethod
    def deploy(workspace, name, models, inference_config=None, deployment_config=None,
               overwrite=False):
        """Deploys ``models`` as the web service ``name`` and returns it (already answering,
        or Failed with the reason in ``state_reason``: see ``wait_for_deployment``)."""
        deployment_config = deployment_config or DeploymentConfiguration()
        request = {
            "models": [{"name": m.name, "version": m.version} for m in models],
            "auth_mode": deployment_config.auth_mode(),
        }
        request.update(deployment_config.options())
        if inference_config is not None:
            request.update(inference_config.upload(workspace))
        if overwrite:
            try:
                workspace._request("DELETE", "services", name)
            except CasemateError as error:
                if error.status != 404:
                    raise
        details = workspace._request("PUT", "services", name, body=request)
        return Webservice(workspace, name, details)


class InferenceConfig:
    """An entry script (``init()`` and ``run(raw_data)``) in ``source_directory``."""

    def __init__(self, entry_script, source_directory=".", environment=None):
        self.entry_script = entry_script.replace(os.sep, "/")
        self.source_directory = source_directory
        self.environment = environment

    def upload(self, workspace):
        with archive_directory(self.source_directory) as archive:
            snapshot = workspace._request("POST", "snapshots", raw=archive.read(),
                                          content_type="application/x-tar")
        return {"entry_script": self.entry_script, "snapshot_id": snapshot["id"]}


class DeploymentConfiguration:
    """Key auth (``auth_enabled``) or token auth (``token_auth_enabled``): one, never both."""

    def __init__(self, auth_enabled=None, token_auth_enabled=False, python=None,
                 max_request_bytes=None, token_lifetime_seconds=None, compute=None):
        if auth_enabled and token_auth_enabled:
            raise ValueError("a web service uses key auth or token auth, never both")
        self.token_auth_enabled = bool(token_auth_enabled)
        self.python = python
        self.max_request_bytes = max_request_bytes
        self.token_lifetime_seconds = token_lifetime_seconds
        self.compute = compute

    def auth_mode(self):
        return "token" if self.token_auth_enabled else "key"

    def options(self):
        chosen = {
            "python": self.python,
            "max_request_bytes": self.max_request_bytes,
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "compute": self.compute,
        }
        return {k: v for k, v in chosen.items() if v is not None}


class Webservice:
    """A deployed web service."""

    def __init__(self, workspace, name, details=None):
        self.workspace = workspace
        self.name = name
        self._details = details or workspace._request("GET", "services", name)
        self._credential = None

    def __repr__(self):
        return f"Webservice(name={self.name!r}, state={self.state!r})"

    @staticmethod
    def deploy_configuration(**options):
        return DeploymentConfiguration(**options)

    def _refresh(self):
        self._details = self.workspace._request("GET", "services", self.name)
        return self._details

    @property
    def state(self):
        return self._details["state"]

    @property
    def state_reason(self):
        return self._details.get("state_reason")

    @property
    def auth_mode(self):
        return self._details["auth_mode"]

    @property
    def scoring_uri(self):
        return self.workspace._connection.endpoint + self._details["scoring_uri"]

    def wait_for_deployment(self, show_output=False, timeout_seconds=600):
        """Waits while the service is Transitioning; raises if it ends Failed."""
        deadline = time.monotonic() + timeout_seconds
        while self._refresh()["state"] == "Transitioning" and time.monotonic() < deadline:
            time.sleep(0.5)
        if show_output:
            print(f"{self.name}: {self.state}")
        if self.state == "Failed":
            raise CasemateError(0, "DeploymentFailed",
                                f"service {self.name} did not start: {self.state_reason}")

    def get_keys(self):
        keys = self.workspace._request("POST", "services", self.name, "listkeys")
        return keys["primary_key"], keys["secondary_key"]

    def regen_key(self, key):
        """``key`` is ``Primary`` or ``Secondary``; the old key stops working at once."""
        self.workspace._request("POST", "services", self.name, "regenerateKeys",
                                body={"key_type": key.lower()})
        self._credential = None

    def get_token(self):
        """A short-lived scoring token and the time after which to get a new one."""
        token = self.workspace._request("POST", "services", self.name, "token")
        return token["access_token"], token["refresh_after"]

    def _scoring_credential(self):
        if self._credential is None:
            if self.auth_mode == "token":
                self._credential = self.get_token()[0]
            else:
                self._credential = self.get_keys()[0]
        return self._credential

    def run(self, input_data):
        """Scores ``input_data`` (a JSON string, or anything JSON-serializable) and returns the
        decoded answer."""
        raw = input_data if isinstance(input_data, (str, bytes)) else json.dumps(input_data)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        path = self.workspace._path("services", self.name, "score")
        return self.workspace._connection.request("POST", path, raw=raw,
                                                  content_type="application/json",
                                                  bearer=self._scoring_credential())

    def get_logs(self):
        """The scoring process's latest output (its prints and tracebacks)."""
        return self.workspace._request("GET", "services", self.name, "console")["text"]

    def get_scoring_log(self, since="24h"):
        """One entry per scoring request: method, URL, status, request id, durations..."""
        return self.workspace._request("GET", "services", self.name, "logs",
                                       query={"since": since})["entries"]

    def update(self, models=None, inference_config=None, python=None):
        """A rolling update: the new process answers before the old one stops."""
        request = {}
        if models is not None:
            request["models"] = [{"name": m.name, "version": m.version} for m in models]
        if inference_config is not None:
            request.update(inference_config.upload(self.workspace))
        if python is not None:
            request["python"] = python
        self._details = self.workspace._request("PATCH", "services", self.name, body=request)

    def delete(self):
        self.workspace._request("DELETE", "services", self.name)


__all__ = ["DeploymentConfiguration", "InferenceConfig", "Model", "Webservice"]
