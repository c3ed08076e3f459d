"""The generated OpenAPI document keeps the contract; the documentation pages work offline."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from tests.api_helpers import CONTRACT
from tests.spec_utils import load_spec

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = ("/invoice/{tenant}/jobs/invoices", "/invoice/{tenant}/jobs/invoices/{jobId}")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_spec(CONTRACT)


@pytest.fixture
def generated(db: Any) -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def deref(document: dict[str, Any], node: Any) -> Any:
    """Follow local $refs ("#/components/...") until a node without one."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def path_parameters(document: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    item = document["paths"][path]
    params = [*item.get("parameters", []), *item[method].get("parameters", [])]
    resolved = [deref(document, p) for p in params]
    return {p["name"]: deref(document, p["schema"]) for p in resolved if p["in"] == "path"}


def compare(
    contract: dict[str, Any], generated: dict[str, Any], c_node: Any, g_node: Any, where: str
) -> list[str]:
    """Differences that break a client built from the contract: properties and their types,
    required fields (the contract's must be required here too), enums (equal)."""
    c_schema, g_schema = deref(contract, c_node), deref(generated, g_node)
    problems = []
    if "enum" in c_schema and sorted(c_schema["enum"]) != sorted(g_schema.get("enum", [])):
        problems.append(f"{where}: enum {c_schema['enum']} != {g_schema.get('enum')}")
    if "type" in c_schema and c_schema["type"] != g_schema.get("type"):
        problems.append(f"{where}: type {c_schema['type']} != {g_schema.get('type')}")
    missing_required = set(c_schema.get("required", [])) - set(g_schema.get("required", []))
    if missing_required:
        problems.append(f"{where}: not required here: {sorted(missing_required)}")
    for name, c_property in c_schema.get("properties", {}).items():
        g_property = g_schema.get("properties", {}).get(name)
        if g_property is None:
            problems.append(f"{where}.{name}: missing")
        else:
            problems += compare(contract, generated, c_property, g_property, f"{where}.{name}")
    if "items" in c_schema:
        problems += compare(contract, generated, c_schema["items"], g_schema.get("items", {}), f"{where}[]")
    return problems


def json_schema(operation_part: dict[str, Any]) -> Any:
    return operation_part["content"]["application/json"]["schema"]


# --- the schema -----------------------------------------------------------------------------------
def test_schema_is_served_as_yaml_and_json(db):
    client = Client()

    as_yaml = client.get("/api/schema/")
    as_json = client.get("/api/schema/?format=json")

    assert as_yaml.status_code == 200 and as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"openapi: 3" in as_yaml.content
    assert as_json.status_code == 200 and json.loads(as_json.content)["info"]["title"] == "Invoice Service"


def test_schema_has_the_contract_paths_and_methods(contract, generated):
    for path in CONTRACT_PATHS:
        assert path in generated["paths"], sorted(generated["paths"])
        assert set(generated["paths"][path]) & METHODS == set(contract["paths"][path]) & METHODS, path


def test_schema_operations_keep_the_contract_ids_and_status_codes(contract, generated):
    for path in CONTRACT_PATHS:
        for method in set(contract["paths"][path]) & METHODS:
            c_op, g_op = contract["paths"][path][method], generated["paths"][path][method]
            assert g_op["operationId"] == c_op["operationId"]
            missing = set(c_op["responses"]) - set(g_op["responses"])
            assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"


def test_schema_path_parameters_match_the_contract(contract, generated):
    for path in CONTRACT_PATHS:
        for method in set(contract["paths"][path]) & METHODS:
            c_params = path_parameters(contract, path, method)
            g_params = path_parameters(generated, path, method)
            assert set(g_params) == set(c_params), path
            for name, c_schema in c_params.items():
                for key in ("type", "pattern", "minLength", "maxLength"):
                    assert g_params[name].get(key) == c_schema.get(key), (path, name, key)


def test_schema_request_body_matches_the_contract(contract, generated):
    path = "/invoice/{tenant}/jobs/invoices"
    c_body = deref(contract, json_schema(contract["paths"][path]["post"]["requestBody"]))
    g_body = deref(generated, json_schema(generated["paths"][path]["post"]["requestBody"]))

    assert compare(contract, generated, c_body, g_body, "JobRequest") == []
    # A request schema must not demand more than the contract: required fields are equal.
    assert sorted(g_body.get("required", [])) == sorted(c_body["required"]) == ["jobType"]
    assert set(g_body["properties"]) == set(c_body["properties"])


def test_schema_responses_match_the_contract(contract, generated):
    problems = []
    for path in CONTRACT_PATHS:
        for method in set(contract["paths"][path]) & METHODS:
            for status, c_response in contract["paths"][path][method]["responses"].items():
                g_response = generated["paths"][path][method]["responses"][status]
                where = f"{method.upper()} {path} {status}"
                problems += compare(
                    contract, generated, json_schema(c_response), json_schema(g_response), where
                )
    assert problems == []


def test_schema_enums_equal_the_contract(contract, generated):
    c_status = contract["components"]["schemas"]["JobStatusResponse"]["properties"]
    detail = "/invoice/{tenant}/jobs/invoices/{jobId}"
    g_status = deref(generated, json_schema(generated["paths"][detail]["get"]["responses"]["200"]))[
        "properties"
    ]
    g_request = deref(
        generated, json_schema(generated["paths"]["/invoice/{tenant}/jobs/invoices"]["post"]["requestBody"])
    )

    def enum(node: Any) -> list[str]:
        return sorted(deref(generated, node)["enum"])

    assert enum(g_status["jobStatus"]) == sorted(c_status["jobStatus"]["enum"]) == ["DONE", "IN_PROGRESS"]
    assert enum(g_status["jobType"]) == sorted(c_status["jobType"]["enum"]) == ["AUTOMATIC", "MANUAL"]
    assert enum(g_request["properties"]["jobType"]) == ["AUTOMATIC", "MANUAL"]
    order_status = deref(generated, g_status["orders"]["items"])["properties"]["orderStatus"]
    assert enum(order_status) == sorted(c_status["orders"]["items"]["properties"]["orderStatus"]["enum"])


def test_schema_error_response_properties_equal_the_contract(contract, generated):
    c_error = contract["components"]["schemas"]["ErrorResponse"]["properties"]
    g_error = generated["components"]["schemas"]["ErrorResponse"]["properties"]

    assert {name: p["type"] for name, p in g_error.items()} == {
        name: p["type"] for name, p in c_error.items()
    }


def test_schema_documents_the_client_credentials_token(generated):
    scheme = generated["components"]["securitySchemes"]["oauth2"]
    flow = scheme["flows"]["clientCredentials"]

    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == {"invoice.invoice_manage", "invoice.invoice_read", "invoice.order_manage"}
    post = generated["paths"]["/invoice/{tenant}/jobs/invoices"]["post"]
    assert post["security"] == [{"oauth2": ["invoice.invoice_manage"]}]


# --- documentation pages, offline -----------------------------------------------------------------
def referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_page_references_only_local_assets(db, page):
    response = Client().get(page)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"https?://|//cdn|cdn\.", html), re.findall(r"\S*(?:https?://|cdn)\S*", html)
    urls = referenced_urls(html)
    assert any(url.startswith("/static/drf_spectacular_sidecar/") for url in urls), urls
    assert all(url.startswith(("/static/", "/api/schema/")) for url in urls), urls


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_page_assets_are_served_without_collectstatic(db, page):
    client = Client()
    html = client.get(page).content.decode()

    for url in [u for u in referenced_urls(html) if u.startswith("/static/")]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response)  # streaming or not
        assert len(body) > 100, url
        response.close()
