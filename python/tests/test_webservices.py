"""The seed's deployment flow with only the import changed: register a model, deploy it with an
entry script, score it with its key or a token, regenerate a key, read the logs."""

import json

import pytest

from casemate import CasemateError, InferenceConfig, Model, Webservice, Workspace

SCORE_PY = '''
import json, os

def init():
    global weights
    with open(os.path.join(os.environ["CASEMATE_MODEL_DIR"], "weights.json")) as f:
        weights = json.load(f)

def run(raw_data):
    data = json.loads(raw_data)["data"]
    print("scoring", len(data), "rows")
    return [sum(w * x for w, x in zip(weights, row)) for row in data]
'''


@pytest.fixture
def deployable(workspace_dir, tmp_path):
    model_dir = tmp_path / "outputs"
    model_dir.mkdir()
    (model_dir / "weights.json").write_text(json.dumps([1, 10, 100]))
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(SCORE_PY)
    return Workspace.from_config(), model_dir, source


def test_a_model_deploys_with_key_auth_and_scores(deployable):
    ws, model_dir, source = deployable
    model = Model.register(ws, model_path=str(model_dir), model_name="weighted-sum")
    again = Model.register(ws, model_path=str(model_dir / "weights.json"), model_name="weighted-sum")
    assert (model.version, again.version) == (1, 2)
    assert Model(ws, "weighted-sum").version == 2

    config = InferenceConfig(entry_script="score.py", source_directory=str(source))
    deployment = Webservice.deploy_configuration(auth_enabled=True)
    service = Model.deploy(ws, "weighted", [model], config, deployment)
    service.wait_for_deployment(show_output=True)
    assert service.state == "Healthy"
    assert service.scoring_uri.endswith("/services/weighted/score")
    assert service.run(json.dumps({"data": [[1, 2, 3]]})) == [321]

    primary, secondary = service.get_keys()
    service.regen_key("Primary")
    new_primary, same_secondary = service.get_keys()
    assert new_primary != primary and same_secondary == secondary
    assert Webservice(ws, "weighted").run({"data": [[0, 0, 1]]}) == [100]
    assert "scoring 1 rows" in service.get_logs()
    log = service.get_scoring_log(since="1h")
    assert [entry["status"] for entry in log] == [200, 200]
    assert log[0]["credential"] == "key:primary"
    with pytest.raises(CasemateError) as error:
        service.get_token()
    assert error.value.status == 409
    service.delete()


def test_token_auth_and_key_auth_are_never_both(deployable):
    ws, model_dir, source = deployable
    with pytest.raises(ValueError):
        Webservice.deploy_configuration(auth_enabled=True, token_auth_enabled=True)
    model = Model.register(ws, model_path=str(model_dir), model_name="weighted-token")
    config = InferenceConfig(entry_script="score.py", source_directory=str(source))
    deployment = Webservice.deploy_configuration(token_auth_enabled=True)
    service = Model.deploy(ws, "weighted-token", [model], config, deployment)
    service.wait_for_deployment()
    token, refresh_after = service.get_token()
    assert token and refresh_after
    assert service.run({"data": [[2, 0, 0]]}) == [2]
    with pytest.raises(CasemateError) as error:
        service.get_keys()
    assert error.value.status == 409
    service.delete()


def test_a_missing_entry_script_is_refused_naming_the_field(deployable):
    ws, model_dir, source = deployable
    model = Model.register(ws, model_path=str(model_dir), model_name="weighted-missing")
    config = InferenceConfig(entry_script="nothere.py", source_directory=str(source))
    with pytest.raises(CasemateError) as error:
        Model.deploy(ws, "weighted-missing", [model], config)
    assert error.value.status == 400
    assert error.value.message.startswith("entry_script: ")
