"""Workspaces, their key vault, experiments and runs."""

import fnmatch
import json
import os
import shlex
import sys
import tarfile
import tempfile
import time
import urllib.parse
import warnings

from ._http import CasemateError, Connection, quote

__all__ = ["Workspace", "Keyvault", "Experiment", "ScriptRunConfig", "Run", "OfflineRun", "RunFailed"]


def _profile_path():
    directory = os.environ.get("CASEMATE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".casemate")
    return os.path.join(directory, "profile.json")


def _save_profile(path, profile):
    temporary = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(profile, handle, indent=2)
    os.replace(temporary, path)


def _connection_from_profile():
    """A connection with the CLI's signed-in profile, refreshing its token when it is about to
    expire (and saving the rotated tokens, as the CLI does)."""
    path = _profile_path()
    try:
        with open(path) as handle:
            profile = json.load(handle)
    except FileNotFoundError:
        raise CasemateError(401, "NotSignedIn", "not signed in: run `casemate login URL` first") from None
    fingerprint = profile.get("fingerprint")
    if profile.get("expires_at", 0) - time.time() < 60 and profile.get("refresh_token"):
        anonymous = Connection(profile["server"], None, fingerprint=fingerprint)
        form = {"grant_type": "refresh_token", "refresh_token": profile["refresh_token"]}
        token = anonymous.request("POST", "/oauth2/token", raw=urllib.parse.urlencode(form).encode(),
                                  content_type="application/x-www-form-urlencoded", auth=False)
        profile["access_token"] = token["access_token"]
        profile["refresh_token"] = token.get("refresh_token")
        profile["expires_at"] = int(time.time()) + int(token["expires_in"])
        _save_profile(path, profile)
    return Connection(profile["server"], profile["access_token"], fingerprint=fingerprint)


class Workspace:
    """A workspace, reached with a signed-in profile or (inside a run) the run's token."""

    def __init__(self, resource_group, workspace_name, connection):
        self.resource_group = resource_group
        self.name = workspace_name
        self._connection = connection

    def __repr__(self):
        return f"Workspace(resource_group={self.resource_group!r}, name={self.name!r})"

    @classmethod
    def from_config(cls, path=None):
        """Reads ``.casemate/config.json`` (``resource_group``, ``workspace_name``) from ``path`` or
        the nearest directory upward from the working directory; signs in with the CLI profile.
        Inside a run, the run's own workspace and token are used."""
        run = _run_environment()
        if run is not None and path is None:
            return cls(run["resource_group"], run["workspace"], run["connection"])
        config = _find_config(path)
        connection = _connection_from_profile()
        return cls(config["resource_group"], config["workspace_name"], connection)

    def _path(self, *tail):
        parts = ["resourceGroups", self.resource_group, "workspaces", self.name, *tail]
        return "/" + "/".join(quote(part) for part in parts)

    def _request(self, method, *tail, **options):
        return self._connection.request(method, self._path(*tail), **options)

    def get_default_keyvault(self):
        return Keyvault(self)

    def get_details(self):
        return self._request("GET")


def _find_config(path):
    if path is not None:
        candidates = [path if path.endswith(".json") else os.path.join(path, ".casemate", "config.json")]
    else:
        candidates = []
        directory = os.getcwd()
        while True:
            candidates.append(os.path.join(directory, ".casemate", "config.json"))
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    for candidate in candidates:
        if os.path.isfile(candidate):
            with open(candidate) as handle:
                config = json.load(handle)
            for field in ("resource_group", "workspace_name"):
                if not isinstance(config.get(field), str):
                    raise ValueError(f"{candidate}: '{field}' is required and must be a string")
            return config
    raise FileNotFoundError("no .casemate/config.json found in " + (path or "this directory or any above it"))


class Keyvault:
    """The workspace's key vault, reached through the workspace (as its managed identity)."""

    def __init__(self, workspace):
        self._workspace = workspace

    def set_secret(self, name, value):
        if value is None:
            raise ValueError(f"the value of secret '{name}' is None (is its environment variable set?)")
        self._workspace._request("PUT", "secrets", name, body={"value": value})

    def set_secrets(self, secrets):
        self._workspace._request("POST", "batchSetSecrets", body={"secrets": dict(secrets)})

    def get_secret(self, name):
        return self._workspace._request("GET", "secrets", name)["value"]

    def get_secrets(self, secrets):
        """A dict of every name asked for; ``None`` for the names that do not exist."""
        names = list(secrets)
        answer = self._workspace._request("POST", "batchGetSecrets", body={"names": names})
        found = answer["secrets"]
        return {name: found.get(name) for name in names}

    def list_secrets(self):
        return [{"name": item["name"]} for item in self._workspace._request("GET", "secrets")]

    def delete_secret(self, name):
        self._workspace._request("DELETE", "secrets", name)

    def delete_secrets(self, secrets):
        self._workspace._request("POST", "batchDeleteSecrets", body={"names": list(secrets)})


class RegistryIdentity:
    """The compute identity that pulls a base image, named by its ``client_id``."""

    def __init__(self, resource_id=None, client_id=None):
        self.resource_id = resource_id
        self.client_id = client_id


class ContainerRegistry:
    def __init__(self):
        self.registry_identity = None


class DockerSection:
    def __init__(self):
        self.base_image = None
        self.base_image_registry = ContainerRegistry()


class Environment:
    """A run's environment: ``env.docker.base_image = "RG/REGISTRY/REPO:TAG"``, pulled from a
    casemate registry through the compute's identity before the run starts (optionally the one
    ``env.docker.base_image_registry.registry_identity = RegistryIdentity(client_id=...)``
    names). The run records the digest it resolved to."""

    def __init__(self, name):
        self.name = name
        self.docker = DockerSection()

    def _image_request(self):
        if not self.docker.base_image:
            return None
        image = {"base_image": self.docker.base_image}
        identity = self.docker.base_image_registry.registry_identity
        if identity is not None:
            if identity.client_id is None:
                raise ValueError("RegistryIdentity needs client_id: the identity's client id")
            image["client_id"] = str(identity.client_id)
        return image


class ScriptRunConfig:
    """What to run: ``script`` (run with python3, plus ``arguments``) or a shell ``command``."""

    def __init__(self, source_directory, script=None, arguments=None, command=None,
                 compute_target="local", environment_variables=None, time_limit_seconds=None,
                 environment=None):
        if (script is None) == (command is None):
            raise ValueError("give exactly one of script= or command=")
        self.environment = environment
        self.source_directory = source_directory
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.compute_target = compute_target
        self.environment_variables = dict(environment_variables or {})
        self.time_limit_seconds = time_limit_seconds

    def command_line(self):
        if self.command is not None:
            return self.command if isinstance(self.command, str) else shlex.join(self.command)
        return shlex.join(["python3", self.script, *[str(a) for a in self.arguments]])


def _ignore_patterns(directory):
    patterns = []
    for name in (".gitignore", ".casemateignore"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path) as handle:
                for line in handle:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        patterns.append(line)
    return patterns


def _ignored(relative, is_dir, patterns):
    ignored = False
    base = os.path.basename(relative)
    for pattern in patterns:
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        dir_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if "/" in pattern:
            matched = fnmatch.fnmatchcase(relative, pattern.lstrip("/"))
        else:
            matched = fnmatch.fnmatchcase(base, pattern)
        if matched:
            ignored = not negated
    return ignored


# Never archived: git's directory, and ``.casemate/``, which holds this SDK's and the CLI's
# configuration and, by default, a server's data directory (its root key and TLS key).
_NEVER_ARCHIVED = (".git", ".casemate")

# Files only a casemate server's data directory holds; a tree with one is refused.
_SERVER_HOME_FILES = ("casemate.db", "root.key")


def archive_directory(directory):
    """A deterministic tar of ``directory`` honouring ``.gitignore`` and ``.casemateignore``
    (top-level files; ``.git/`` and ``.casemate/`` are never included), in a temporary file
    opened for reading. A tree holding a casemate server's data directory raises ``ValueError``."""
    patterns = _ignore_patterns(directory)
    handle = tempfile.TemporaryFile()
    try:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for root, directories, files in os.walk(directory):
                directories.sort()
                kept = []
                for name in directories:
                    relative = os.path.relpath(os.path.join(root, name), directory)
                    if name not in _NEVER_ARCHIVED and not _ignored(relative, True, patterns):
                        kept.append(name)
                directories[:] = kept
                for name in sorted(kept) + sorted(files):
                    path = os.path.join(root, name)
                    relative = os.path.relpath(path, directory)
                    if name in files and _ignored(relative, False, patterns):
                        continue
                    if name in files and name in _SERVER_HOME_FILES:
                        raise ValueError(
                            f"{os.path.dirname(relative) or '.'} looks like a casemate server's data "
                            f"directory (it holds {relative}): its keys must never be uploaded. Keep "
                            "the server's home outside the source tree, or list it in .casemateignore")
                    info = archive.gettarinfo(path, arcname=relative)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mtime = 0
                    if info.isreg():
                        with open(path, "rb") as content:
                            archive.addfile(info, content)
                    elif info.isdir() or info.issym():
                        archive.addfile(info)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


class Experiment:
    def __init__(self, workspace, name):
        self.workspace = workspace
        self.name = name

    def submit(self, config):
        """Uploads the source directory as a snapshot and submits the run."""
        with archive_directory(config.source_directory) as archive:
            snapshot = self.workspace._request("POST", "snapshots", raw=archive.read(),
                                               content_type="application/x-tar")
        request = {"snapshot_id": snapshot["id"], "command": config.command_line(),
                   "compute": config.compute_target}
        if config.environment_variables:
            request["environment"] = config.environment_variables
        if config.time_limit_seconds:
            request["time_limit_seconds"] = config.time_limit_seconds
        image = config.environment._image_request() if config.environment else None
        if image:
            request["image"] = image
        details = self.workspace._request("POST", "experiments", self.name, "runs", body=request)
        return Run(self.workspace, details["id"], details)


class RunFailed(CasemateError):
    """``wait_for_completion`` saw the run end Failed or Canceled."""


class Run:
    """A run on the server. ``Run.get_context()`` inside a submitted run is that run."""

    def __init__(self, workspace, run_id, details=None):
        self.workspace = workspace
        self.id = str(run_id)
        self._details = details or {}

    def __repr__(self):
        return f"Run(id={self.id!r})"

    @staticmethod
    def get_context():
        """The current run inside a casemate run; an offline run anywhere else."""
        run = _run_environment()
        if run is None:
            return OfflineRun()
        workspace = Workspace(run["resource_group"], run["workspace"], run["connection"])
        return Run(workspace, run["run_id"])

    def get_details(self):
        self._details = self.workspace._request("GET", "runs", self.id)
        return self._details

    def get_status(self):
        return self.get_details()["status"]

    def get_secret(self, name):
        return self.workspace.get_default_keyvault().get_secret(name)

    def get_identity_token(self, client_id=None, resource=None):
        """A short-lived token as an identity of this run's compute (the system-assigned one, or
        the user-assigned one ``client_id`` names). It carries the identity's rights, not the
        submitter's."""
        request = {}
        if client_id:
            request["client_id"] = str(client_id)
        if resource:
            request["resource"] = resource
        answer = self.workspace._request("POST", "runs", self.id, "identityToken", body=request)
        return answer["access_token"]

    def workspace_as_identity(self, resource_group=None, workspace_name=None, client_id=None):
        """A workspace (this run's, or another) reached as the compute's identity."""
        connection = self.workspace._connection
        identity = Connection(connection.endpoint, self.get_identity_token(client_id),
                              ca_cert=connection._ca_cert, fingerprint=connection._fingerprint)
        return Workspace(resource_group or self.workspace.resource_group,
                         workspace_name or self.workspace.name, identity)

    def get_secrets(self, secrets):
        return self.workspace.get_default_keyvault().get_secrets(secrets)

    def log(self, name, value, step=None, description=""):
        point = {"name": name, "value": float(value)}
        if step is not None:
            point["step"] = int(step)
        self.workspace._request("POST", "runs", self.id, "metrics", body={"metrics": [point]})

    def log_list(self, name, values):
        points = [{"name": name, "value": float(v), "step": i} for i, v in enumerate(values)]
        self.workspace._request("POST", "runs", self.id, "metrics", body={"metrics": points})

    def get_metrics(self, name=None):
        query = {"name": name} if name else None
        points = self.workspace._request("GET", "runs", self.id, "metrics", query=query)
        metrics = {}
        for point in points:
            metrics.setdefault(point["name"], []).append(point["value"])
        return {key: values[0] if len(values) == 1 else values for key, values in metrics.items()}

    def set_tags(self, tags):
        self.workspace._request("PATCH", "runs", self.id, "tags", body={"tags": dict(tags)})

    def tag(self, key, value=""):
        self.set_tags({key: value})

    def upload_file(self, name, path_or_stream):
        if hasattr(path_or_stream, "read"):
            content = path_or_stream.read()
        else:
            with open(path_or_stream, "rb") as handle:
                content = handle.read()
        parts = [p for p in name.split("/") if p]
        return self.workspace._request("PUT", "runs", self.id, "outputs", *parts, raw=content,
                                       content_type="application/octet-stream")

    def cancel(self):
        self._details = self.workspace._request("POST", "runs", self.id, "cancel")

    def wait_for_completion(self, show_output=False, raise_on_error=True, poll_seconds=0.5):
        """Waits for the run to end, printing its (masked) output as it comes when asked."""
        after = 0
        while True:
            logs = self.workspace._request("GET", "runs", self.id, "logs", query={"after": after})
            for chunk in logs["chunks"]:
                if show_output:
                    stream = sys.stderr if chunk["stream"] == "stderr" else sys.stdout
                    stream.write(chunk["text"])
                    stream.flush()
            after = logs["next"]
            if logs["complete"]:
                break
            if not logs["chunks"]:
                time.sleep(poll_seconds)
        details = self.get_details()
        if raise_on_error and details["status"] != "Completed":
            raise RunFailed(0, details["status"], details.get("reason") or "the run did not complete")
        return details


class OfflineRun:
    """``Run.get_context()`` outside casemate: secrets come from environment variables, metrics
    are printed. It says so, so nobody mistakes it for a tracked run."""

    id = "offline"

    def __repr__(self):
        return "OfflineRun()"

    def get_secret(self, name):
        warnings.warn(f"offline run: secret '{name}' is read from the environment variable {name}",
                      stacklevel=2)
        return os.environ.get(name)

    def get_secrets(self, secrets):
        return {name: self.get_secret(name) for name in secrets}

    def log(self, name, value, step=None, description=""):
        print(f"offline run: metric {name}={value}" + (f" (step {step})" if step is not None else ""))

    def set_tags(self, tags):
        print(f"offline run: tags {dict(tags)}")

    def upload_file(self, name, path_or_stream):
        print(f"offline run: {name} is not uploaded")


def _run_environment():
    """The run's settings when this process is a casemate run, else None."""
    run_id = os.environ.get("CASEMATE_RUN_ID")
    token = os.environ.get("CASEMATE_RUN_TOKEN")
    endpoint = os.environ.get("CASEMATE_ENDPOINT")
    if not (run_id and token and endpoint):
        return None
    connection = Connection(endpoint, token, ca_cert=os.environ.get("CASEMATE_CA_CERT"))
    return {
        "run_id": run_id,
        "resource_group": os.environ["CASEMATE_RESOURCE_GROUP"],
        "workspace": os.environ["CASEMATE_WORKSPACE"],
        "connection": connection,
    }

