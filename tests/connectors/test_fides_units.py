"""The shipped Fides connector (integrations/fides) agrees with cvdsr's routes and answers, and the Fides
receiver parses what that connector sends. The real Fides server runs it in ``make interop``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from shared.connectors import fides
from shared.connectors.outbound import NotSent
from shared.dsr_request import parse_request
from shared.settings import FidesSettings, SubjectMapping, load_resources

INTEGRATION = Path(__file__).resolve().parents[2] / "integrations" / "fides"
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
CONFIGS = {"cvdsr_config.yml": "cvdsr_dataset.yml", "cvdsr_callback_config.yml": "cvdsr_callback_dataset.yml"}
STANDARD = {"privacy_request_id", "reply_to", "reply_to_token", "correlation_id"}  # Fides fills these itself
ENVIRON = {
    "CUSTOMVISION__DEMO__ENDPOINT": "https://demo.cognitiveservices.azure.com",
    "CUSTOMVISION__DEMO__TRAININGKEY": "k",
    "CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY": "email",
    "CUSTOMVISION__DEMO__SUBJECT_HASH": "hmac-sha256",
    "CUSTOMVISION__DEMO__SUBJECT_HASH_SECRET": "pepper",
}


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((INTEGRATION / name).read_text())
    return document


def requests_of(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every request Fides may send: the endpoints' and their async status and result requests."""
    found = [("test", config["test_request"])]
    for endpoint in config["endpoints"]:
        for action, request in endpoint["requests"].items():
            found.append((f"{endpoint['name']} {action}", request))
            configuration = (request.get("async_config") or {}).get("configuration") or {}
            found += [(f"{endpoint['name']} {action} {k}", v) for k, v in configuration.items() if v]
    return found


def cvdsr_routes() -> set[tuple[str, str]]:
    """``(method, /api/<route> as a regex)`` of every HTTP function."""
    routes = set()
    for source in FUNCTIONS.glob("*.py"):
        for route, methods in re.findall(r'route\(route="([^"]+)", methods=\[([^\]]+)\]', source.read_text()):
            pattern = "^/api/" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$"
            routes |= {(method.strip().strip('"'), pattern) for method in methods.split(",")}
    return routes


@pytest.mark.parametrize("config_file", CONFIGS)
def test_every_request_of_the_shipped_connector_reaches_a_cvdsr_route(config_file: str) -> None:
    config = load(config_file)["saas_config"]
    routes = cvdsr_routes()
    for where, request in requests_of(config):
        path = re.sub(r"<[a-z_]+>", "x", request["path"])
        assert any(method == request["method"] and re.match(p, path) for method, p in routes), where


@pytest.mark.parametrize("config_file", CONFIGS)
def test_the_connector_uses_only_placeholders_fides_fills(config_file: str) -> None:
    config = load(config_file)["saas_config"]
    params = {param["name"] for param in config["connector_params"]}
    assert {param["name"] for param in config["connector_params"] if param.get("sensitive")} == {
        "function_key",
        "api_key",
    }
    for where, request in requests_of(config):
        named = {value["name"] for value in request.get("param_values", [])}
        for placeholder in re.findall(r"<([a-z_]+)>", json.dumps(request)):
            assert placeholder in params | named | STANDARD, f"{where}: <{placeholder}>"
    auth = json.dumps(config["client_config"])
    assert "<function_key>" in auth
    assert "Bearer <api_key>" in auth
    assert config["client_config"]["protocol"] == "https", "the shipped connector never sends keys in clear"


@pytest.mark.parametrize(("config_file", "dataset_file"), CONFIGS.items())
def test_the_dataset_matches_its_config(config_file: str, dataset_file: str) -> None:
    config, (dataset,) = load(config_file)["saas_config"], load(dataset_file)["dataset"]
    assert dataset["fides_key"] == config["fides_key"]
    collections = {collection["name"]: collection for collection in dataset["collections"]}
    assert set(collections) == {endpoint["name"] for endpoint in config["endpoints"]}
    for collection in collections.values():
        keys = [f for f in collection["fields"] if (f.get("fides_meta") or {}).get("primary_key")]
        assert len(keys) == 1, f"{collection['name']}: Fides masks a SaaS collection by one primary key"
        for field in collection["fields"]:
            assert "references" not in field
            assert "identity" not in (field.get("fides_meta") or {})


def test_polling_reads_what_the_result_route_answers() -> None:
    """The status and result requests read the fields ``http_api.request_result`` answers, and the
    correlation id is the field the receiver answers with."""
    for config_file in CONFIGS:
        for endpoint in load(config_file)["saas_config"]["endpoints"]:
            for request in endpoint["requests"].values():
                configuration = request["async_config"]["configuration"]
                if request["async_config"]["strategy"] == "polling":
                    assert request["correlation_id_path"] == "request_id"
                    status = configuration["status_request"]
                    assert (status["status_path"], status["status_completed_value"]) == ("status", "succeeded")
                    assert status["path"] == "/api/requests/<correlation_id>/result"
                if "result_request" in configuration:
                    assert configuration["result_request"]["result_path"] == "items"


def settings(**fields: Any) -> FidesSettings:
    return FidesSettings(resources="demo", token=SecretStr("t"), **fields)


def filled(config_file: str, endpoint: str, action: str, **values: str) -> bytes:
    """The body Fides sends, its placeholders filled as Fides does (text substitution)."""
    config = load(config_file)["saas_config"]
    (request,) = [e["requests"][action] for e in config["endpoints"] if e["name"] == endpoint]
    body = str(request["body"])
    for name, value in values.items():
        body = body.replace(f"<{name}>", value)
    return body.encode()


@pytest.fixture
def resources(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert load_resources()["demo"].subject == SubjectMapping(metadata_key="email", hash="hmac-sha256", secret="pepper")


def test_an_access_body_becomes_an_export_of_the_persons_images(resources: None) -> None:
    body = filled("cvdsr_config.yml", "images", "read", privacy_request_id="pri_1f2e", email="Dana@Example.com")
    request, record = fides._parse(settings(), body)
    assert record == {"privacy_request_id": "pri_1f2e", "action": "access"}
    parsed = parse_request(json.dumps(request).encode(), configured_resources=load_resources())
    assert parsed.request_id == "fides-pri_1f2e-access"
    assert request["type"] == "export"
    (value,) = request["scope"]["images"]["metadata"].values()
    assert len(value) == 64, "the pseudonym (HMAC-SHA256, hex), never the email"
    assert "Dana" not in json.dumps(request)
    assert "dana" not in json.dumps(request)


def test_a_callback_erasure_body_keeps_the_reply_to_token_out_of_the_request(resources: None) -> None:
    body = filled(
        "cvdsr_callback_config.yml",
        "erasure",
        "delete",
        privacy_request_id="pri_9",
        email="fay@example.com",
        reply_to="/api/v1/request-task/callback",
        reply_to_token="jwe.token.value",
    )
    request, record = fides._parse(settings(url="https://fides.example.com"), body)
    assert request["type"] == "erase"
    assert request["request_id"] == "fides-pri_9-erasure"
    assert record["credentials"] == {"reply_to_token": "jwe.token.value"}, "dropped once the answer is sent"
    assert "jwe.token.value" not in json.dumps(request), "the request (and so history) never holds it"
    with pytest.raises(ValueError, match="CVDSR_FIDES__URL"):
        fides._parse(settings(), body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"privacy_request_id": "../../x"}, "privacy_request_id"),
        ({"privacy_request_id": None}, "privacy_request_id"),
        ({"action": "consent"}, "action"),
        ({"identity": "dana@example.com"}, "identity"),
        ({"identity": {}}, "no identifier"),
        ({"reply_to": "https://elsewhere.example/steal"}, "reply_to"),
        ({"reply_to": "/api/v1/request-task/callback", "reply_to_token": ""}, "reply_to_token"),
        ({"reply_to": "/api/v1/request-task/callback\n", "reply_to_token": "a.b.c"}, "reply_to"),
        ({"reply_to": "/api/v1/request-task/callback", "reply_to_token": "a.b\u00e9"}, "reply_to_token"),
    ],
)
def test_a_body_cvdsr_cannot_act_on_says_why(resources: None, change: dict[str, Any], reason: str) -> None:
    body = {"privacy_request_id": "pri_1", "action": "access", "identity": {"email": "a@example.com"}} | change
    with pytest.raises(ValueError, match=reason):
        fides._parse(settings(url="https://fides.example.com"), json.dumps(body).encode())


def test_the_bearer_token_is_compared_whole() -> None:
    configured = settings()
    assert fides.authorised(configured, {"authorization": "Bearer t"})
    for given in ("Bearer t ", "bearer t", "Bearer", "t", ""):
        assert not fides.authorised(configured, {"authorization": given})


def test_a_body_nested_past_the_parsers_limit_is_not_json() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        fides._parse(settings(), b"[" * 5000)


async def test_a_request_that_did_not_succeed_or_a_dry_run_is_never_posted_as_done() -> None:
    record = {"action": "erasure", "credentials": {"reply_to_token": "t"}}
    erase = {"request_id": "fides-pri_1-erasure", "type": "erase"}
    for status in ("failed", "partially_succeeded", "rejected"):
        with pytest.raises(NotSent, match=f"ended {status}"):
            await fides.callback_body(None, record, erase, {"status": status})  # type: ignore[arg-type]
    with pytest.raises(NotSent, match="dry run"):
        await fides.callback_body(None, record, erase | {"dry_run": True}, {"status": "succeeded"})  # type: ignore[arg-type]
    done = await fides.callback_body(None, record, erase, {"status": "succeeded", "counts": {"images": 4}})  # type: ignore[arg-type]
    assert done == {"rows_masked": 4}
