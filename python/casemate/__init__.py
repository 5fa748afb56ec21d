"""casemate's Python SDK: the standard library only.

The shapes follow the cloud platform's SDK, so its snippets work with only the import changed:
``Workspace.from_config()``, ``ws.get_default_keyvault().set_secret(...)``,
``Experiment(ws, name).submit(ScriptRunConfig(...))`` and, inside a run,
``Run.get_context().get_secret(...)``, and ``Model.register`` / ``Model.deploy`` /
``Webservice(ws, name).run(...)`` for web services.
"""

from ._http import CasemateError
from .core import (
    Environment,
    Experiment,
    Keyvault,
    OfflineRun,
    RegistryIdentity,
    Run,
    RunFailed,
    ScriptRunConfig,
    Workspace,
)
from .webservice import DeploymentConfiguration, InferenceConfig, Model, Webservice

__all__ = [
    "CasemateError",
    "DeploymentConfiguration",
    "InferenceConfig",
    "Model",
    "Environment",
    "Experiment",
    "Keyvault",
    "OfflineRun",
    "RegistryIdentity",
    "Run",
    "RunFailed",
    "ScriptRunConfig",
    "Webservice",
    "Workspace",
]
