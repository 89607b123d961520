"""Every operation of the OpenAPI schema, sent a few malformed requests by a key that may call it:
never a server error, and every refusal in the one shape with a code of the table.

Deterministic where ``test_schema.py`` samples: each body property, query parameter and path
parameter gets the same hostile values (a NUL, a lone surrogate, past 32 and 64 bits, a long
string, the wrong JSON type), which found 500s on PostgreSQL alone, hence both backends. A few
seconds per backend.

What it reaches: a path or query parameter meets the database with its hostile value, but a
body has every property hostile at once, so it is refused at validation; a value that passes
validation and fails only behind other valid fields (an out-of-range ``replaces`` in an
otherwise valid act) is each route's own test's to find (``test_database_bounds.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optinface.api.error_codes import STATUS_BY_CODE
from optinface.consent.roles import PERMISSIONS, Permission, Role
from tests.support.api import World, auth
from tests.support.backends import on_both_backends
from tests.support.routes import permissions, unopened_app

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

APP = unopened_app()
SCHEMA = APP.openapi()
PERMISSION = permissions(APP)
OPERATIONS = sorted((method.upper(), path) for path, methods in SCHEMA["paths"].items()
                    for method in methods)

# Raw JSON texts, so that a lone surrogate travels as JSON spells it.
HOSTILE_JSON = ['"nul\\u0000inside"', '"\\ud800xxxxxxxx"', str(2**31), str(2**63), "-1", "1e308",
                '"' + "x" * 300 + '"', "[]", "{}", "null", "true"]
HOSTILE_TEXT = ["nul\x00inside", str(2**31), str(2**63), "-1", "x" * 300, ""]
HOSTILE_PATH = ["%00", "x" * 300, str(2**31), "%2F", "%ED%A0%80"]
RAW_BODIES = [b"", b"{", b"[]", b"null", b'"x"', b"[" * 5000]


ERASING = {("DELETE", "/v1/subjects/{subject}")}
"""Routes where a request the harness calls malformed may be a valid act: ``DELETE`` with an
empty or ``null`` body is the person's unsigned erasure (its signature is optional), which
would leave the rest of the requests with a revoked token."""


def _caller(world: World, method: str, path: str) -> dict[str, str]:
    """A credential that passes the route's guard: the person's own token on their routes."""
    permission: Permission | None = PERMISSION.get((method, path))
    if permission is None:
        return {}
    if "{subject}" in path and permission in PERMISSIONS[Role.SUBJECT]:
        return auth(world.subject_token)
    role = next(r for r in Role if r is not Role.SUBJECT and permission in PERMISSIONS[r])
    return auth(world.keys.for_role(role))


def _url(path: str, world: World, **override: str) -> str:
    known = {"subject": world.subject, "consent_id": world.consent_id,
             "purpose_id": world.purpose_id}
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return path.format(**{name: override.get(name, known.get(name, "none")) for name in names})


def _body_schema(operation: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The body's content type and property names (empty for an operation without a body)."""
    for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
        schema = media["schema"]
        if "$ref" in schema:
            schema = SCHEMA["components"]["schemas"][schema["$ref"].split("/")[-1]]
        properties = set(schema.get("properties", {}))
        for variant in schema.get("oneOf", []):
            properties |= set(SCHEMA["components"]["schemas"][
                variant["$ref"].split("/")[-1]].get("properties", {}))
        return content_type, sorted(properties)
    return None, []


def _other_required(operation: dict[str, Any], name: str) -> dict[str, str]:
    """The operation's other required query parameters at their least valid value, so that a
    hostile one meets the database instead of a refusal for a missing sibling (``second`` of
    ``/v1/audit/consistency`` past 32 bits was a 500 on PostgreSQL while ``first`` was absent)."""
    return {other["name"]: str(other["schema"]["minimum"])
            for other in operation.get("parameters", [])
            if other["in"] == "query" and other.get("required") and other["name"] != name}


def _requests(world: World, method: str, path: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, keyword arguments of ``client.request``) for each malformed request."""
    operation = SCHEMA["paths"][path][method.lower()]
    url = _url(path, world)
    content_type, properties = _body_schema(operation)
    sent: list[tuple[str, dict[str, Any]]] = []
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            sent += [(f"{name}={value[:12]}", {"url": _url(path, world, **{name: value})})
                     for value in HOSTILE_PATH]
        elif parameter["in"] == "query":
            sent += [(f"?{name}={value[:12]!r}", {
                "url": url, "params": _other_required(operation, name) | {name: value}})
                for value in HOSTILE_TEXT]
    if content_type == "application/json":
        json_headers = {"Content-Type": "application/json"}
        sent += [(f"body {raw[:12]!r}", {"url": url, "content": raw, "headers": json_headers})
                 for raw in RAW_BODIES]
        sent += [(f"every property {value[:12]}", {
            "url": url, "headers": json_headers,
            "content": ("{" + ",".join(f'{json.dumps(p)}:{value}' for p in properties)
                        + "}").encode()}) for value in HOSTILE_JSON]
    elif content_type == "multipart/form-data":
        text_fields = [p for p in properties if p != "image"]
        sent += [(f"every field {value[:12]!r}", {
            "url": url, "data": dict.fromkeys(text_fields, value),
            "files": {"image": ("x.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")}})
            for value in HOSTILE_TEXT]
        sent += [("no file", {"url": url, "data": dict.fromkeys(text_fields, "x")}),
                 ("json instead", {"url": url, "json": {}})]
    else:
        sent.append(("unexpected body", {"url": url, "content": b"{", "headers": {
            "Content-Type": "application/json"}}))
    return sent


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_malformed_request_makes_a_server_error(world: World, method: str, path: str) -> None:
    client: TestClient = world.client
    caller = _caller(world, method, path)
    wrong: list[str] = []
    for label, request in _requests(world, method, path):
        if (method, path) in ERASING:  # a body that is no signature erases: a subject each
            subject, token = world.new_subject(searchable=False)
            request["url"] = request["url"].replace(world.subject, subject)
            caller = auth(token)
        headers = caller | request.pop("headers", {})
        answer = client.request(method, headers=headers, **request)
        if answer.status_code >= 500:
            wrong.append(f"{label}: {answer.status_code} {answer.text[:200]}")
        elif answer.status_code >= 400:
            body = answer.json()
            if set(body) != {"code", "message", "details"} or \
                    STATUS_BY_CODE.get(body["code"]) != answer.status_code:
                wrong.append(f"{label}: {answer.status_code} not in the one shape: {body}")
    assert wrong == []
