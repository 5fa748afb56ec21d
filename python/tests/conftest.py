"""The suite runs against a real casemate server that the Rust test harness started; it passes
the server's URL, certificate and a signed-in profile in the environment."""

import json
import os

import pytest


@pytest.fixture
def workspace_dir(tmp_path, monkeypatch):
    """A project directory with .casemate/config.json naming the harness's workspace."""
    (tmp_path / ".casemate").mkdir()
    (tmp_path / ".casemate" / "config.json").write_text(json.dumps({
        "resource_group": os.environ["CASEMATE_TEST_RESOURCE_GROUP"],
        "workspace_name": os.environ["CASEMATE_TEST_WORKSPACE"],
    }))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sdk_path():
    return os.environ["CASEMATE_TEST_SDK_PATH"]


@pytest.fixture
def examples():
    return os.environ["CASEMATE_TEST_EXAMPLES"]
