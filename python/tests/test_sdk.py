import os
import subprocess
import sys
import tarfile

import pytest

from casemate import (
    CasemateError,
    Environment,
    Experiment,
    RegistryIdentity,
    Run,
    RunFailed,
    ScriptRunConfig,
    Workspace,
)
from casemate._http import Connection
from casemate.core import archive_directory


def test_keyvault_round_trip(workspace_dir):
    ws = Workspace.from_config()
    kv = ws.get_default_keyvault()
    kv.set_secret("alpha", "a-value")
    kv.set_secrets({"beta": "b-value", "gamma": "c-value"})
    assert kv.get_secret("alpha") == "a-value"
    assert kv.get_secrets(["beta", "missing"]) == {"beta": "b-value", "missing": None}
    names = {item["name"] for item in kv.list_secrets()}
    assert {"alpha", "beta", "gamma"} <= names
    kv.delete_secret("alpha")
    kv.delete_secrets(["beta", "gamma"])
    with pytest.raises(CasemateError) as error:
        kv.get_secret("alpha")
    assert error.value.status == 404 and error.value.code == "NotFound"


def test_errors_carry_the_servers_code_and_message(workspace_dir):
    kv = Workspace.from_config().get_default_keyvault()
    with pytest.raises(CasemateError) as error:
        kv.set_secret("not a valid name!", "x")
    assert error.value.status == 400
    assert error.value.code == "InvalidInput"
    assert error.value.message.startswith("name: ")
    with pytest.raises(ValueError):
        kv.set_secret("unset", None)


def test_the_seeds_code_runs_with_only_the_import_changed(workspace_dir, examples, sdk_path, capsys):
    env = dict(os.environ, MY_SECRET="seed-S3cret-value", PYTHONPATH=sdk_path)
    subprocess.run([sys.executable, os.path.join(examples, "set_secret.py")], check=True, env=env,
                   cwd=workspace_dir)
    ws = Workspace.from_config()
    assert ws.get_default_keyvault().get_secret("mysecret") == "seed-S3cret-value"
    # No PYTHONPATH for the run: the server puts the SDK it carries on every local run's path.
    config = ScriptRunConfig(source_directory=examples, script="train.py", compute_target="local")
    run = Experiment(ws, "seed").submit(config)
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    printed = capsys.readouterr().out
    assert "connecting with ***" in printed
    assert "seed-S3cret-value" not in printed
    assert run.get_metrics() == {"accuracy": 0.91}


def test_a_base_image_is_sent_with_the_run_and_refused_by_field(workspace_dir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('never runs')\n")
    env = Environment("base")
    env.docker.base_image = "team/private/base/py:v1"
    ws = Workspace.from_config()
    config = ScriptRunConfig(source_directory=str(source), script="train.py", environment=env)
    # The built-in local compute has no identity to pull the image with.
    with pytest.raises(CasemateError) as error:
        Experiment(ws, "imaged").submit(config)
    assert error.value.status == 400
    assert error.value.message.startswith("image.client_id: ")
    env.docker.base_image = "docker.io/library/python:3"
    with pytest.raises(CasemateError) as error:
        Experiment(ws, "imaged").submit(config)
    assert error.value.message.startswith("image.base_image: ")
    env.docker.base_image_registry.registry_identity = RegistryIdentity(resource_id="/resourceGroups/g/identities/i")
    with pytest.raises(ValueError):
        Experiment(ws, "imaged").submit(config)


def test_a_failed_run_raises_with_its_reason(workspace_dir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "fail.py").write_text("raise SystemExit(4)\n")
    (source / "ignored.bin").write_text("never uploaded")
    (source / ".casemateignore").write_text("*.bin\n")
    ws = Workspace.from_config()
    run = Experiment(ws, "failing").submit(ScriptRunConfig(source_directory=str(source), script="fail.py"))
    with pytest.raises(RunFailed) as error:
        run.wait_for_completion()
    assert "exited with code 4" in error.value.message
    listing = Experiment(ws, "listing").submit(ScriptRunConfig(source_directory=str(source), command="ls -a"))
    listing.wait_for_completion()
    shown = "".join(chunk["text"] for chunk in ws._request("GET", "runs", listing.id, "logs")["chunks"])
    assert "fail.py" in shown and "ignored.bin" not in shown


def test_outside_a_run_the_context_is_offline_and_says_so(monkeypatch):
    for name in ("CASEMATE_RUN_ID", "CASEMATE_RUN_TOKEN", "CASEMATE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("mysecret", "from-env")
    run = Run.get_context()
    with pytest.warns(UserWarning, match="offline run"):
        assert run.get_secret("mysecret") == "from-env"


def test_tls_is_verified_against_the_ca_file_or_the_pinned_fingerprint():
    url = os.environ["CASEMATE_TEST_URL"]
    ca = os.environ["CASEMATE_TEST_CA_CERT"]
    assert Connection(url, None, ca_cert=ca).request("GET", "/health", auth=False)["status"]
    pinned = Connection(url, None, fingerprint=os.environ["CASEMATE_TEST_FINGERPRINT"])
    assert pinned.request("GET", "/health", auth=False)["status"]
    wrong = Connection(url, None, fingerprint="00" * 32)
    with pytest.raises(CasemateError) as error:
        wrong.request("GET", "/health", auth=False)
    assert error.value.code == "CertificateMismatch"


def test_snapshots_never_carry_casemate_directories_or_a_server_home(tmp_path):
    source = tmp_path / "src"
    (source / ".casemate" / "tls").mkdir(parents=True)
    (source / ".casemate" / "root.key").write_bytes(b"k" * 32)
    (source / ".casemate" / "tls" / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (source / "nested" / ".casemate").mkdir(parents=True)
    (source / "nested" / ".casemate" / "config.json").write_text("{}")
    (source / "train.py").write_text("print(1)\n")
    with archive_directory(str(source)) as archive:
        with tarfile.open(fileobj=archive) as tar:
            assert tar.getnames() == ["nested", "train.py"]
    (source / "data").mkdir()
    (source / "data" / "casemate.db").write_bytes(b"")
    with pytest.raises(ValueError, match="data looks like a casemate server's data directory"):
        archive_directory(str(source))
