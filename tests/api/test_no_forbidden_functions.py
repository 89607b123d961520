"""What the API must never offer, checked on its OpenAPI schema: no ingestion from a URL, a
stream or a camera feed (AI Act art. 5(1)(e), P-39.1 s. 6), no attribute or emotion inference
(LCCJTI art. 44 al. 2, AI Act art. 5(1)(f),(g)); and, in the code that takes faces in, no
network client to fetch one with."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.routes import unopened_app

ROOT = Path(__file__).resolve().parents[2]
NETWORK_CLIENTS = ("httpx", "httpx2", "requests", "urllib.request", "urllib3", "aiohttp",
                   "http.client", "socket", "ftplib", "websocket", "websockets", "pycurl")
"""Modules that can fetch from elsewhere. The CLI's benchmark and demo and the tests' software
authenticators (``api/``) may talk HTTP; the consent core and the engine, which take faces in,
may not."""
FORBIDDEN_INPUTS = {"url", "source_url", "image_url", "stream", "video", "rtsp", "camera",
                    "feed", "crawl"}
BIOMETRIC_OUTPUT = re.compile(r"image|photo|picture|jpeg|template|embedding|vector|cipher")
"""Names an answer's field may not have unless it is a count, a flag, a hash or a list of
records that are themselves checked (``templates``: their ids, model and quality)."""
FORBIDDEN_OUTPUTS = {"age", "estimated_age", "gender", "sex", "race", "ethnicity", "emotion",
                     "expression", "religion", "orientation", "attributes"}


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _property_names(item)


def _answer_properties(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(schema name, property, its schema) of every object a response can hold, following
    references."""
    components = schema["components"]["schemas"]
    todo: list[tuple[str, Any]] = [
        ("response", answer) for item in schema["paths"].values() for operation in item.values()
        if isinstance(operation, dict) for answer in operation.get("responses", {}).values()]
    seen: set[str] = set()
    while todo:
        owner, node = todo.pop()
        if isinstance(node, list):
            todo.extend((owner, item) for item in node)
        elif isinstance(node, dict) and "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                todo.append((name, components[name]))
        elif isinstance(node, dict):
            yield from ((owner, name, spec) for name, spec in node.get("properties", {}).items())
            todo.extend((owner, value) for value in node.values())


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside ``node`` (an ``anyOf`` of an optional field included)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


def _carries_data(spec: dict[str, Any]) -> bool:
    """Whether a field could hold an image (bytes, base64 text) or a vector (numbers): not a
    count, a flag, or a list of records that are themselves checked."""
    return not (spec.get("type") in ("integer", "boolean") or "$ref" in spec.get("items", {}))


def _openapi() -> dict[str, Any]:
    return unopened_app().openapi()


def test_no_route_ingests_from_a_url_or_a_stream() -> None:
    schema = _openapi()
    names = {name.lower() for name in _property_names(schema)}
    assert names & FORBIDDEN_INPUTS == set()
    paths = " ".join(schema["paths"]).lower()
    assert not any(word in paths for word in ("stream", "video", "crawl", "import", "scrape"))


def test_no_answer_infers_attributes_from_a_face() -> None:
    names = {name.lower() for name in _property_names(_openapi())}
    assert names & FORBIDDEN_OUTPUTS == set()
    assert "age_category" in names  # the declared age bracket is an input, never an estimate


PERSONS_OWN_COPY = {"AccessExport.template_vectors", "TemplateVector.vector"}
"""The one answer that holds templates: the person's own copy of them, in their access export,
only when they ask with their own credential (GDPR art. 15(3), 20; ``Permission.EXPORT_VECTORS``,
``tests/api/test_template_copy.py``). No other answer may."""


def test_no_answer_carries_an_image_a_template_or_an_embedding() -> None:
    properties = [(owner, name, spec) for owner, name, spec in _answer_properties(_openapi())
                  if f"{owner}.{name}" not in PERSONS_OWN_COPY]
    assert {"MatchResult", "Candidate", "AccessExport"} <= {owner for owner, _, _ in properties}
    named = [f"{owner}.{name}" for owner, name, spec in properties
             if BIOMETRIC_OUTPUT.search(name.lower()) and not name.endswith("_sha256")
             and _carries_data(spec)]
    shaped = [f"{owner}.{name}" for owner, name, spec in properties for node in _nodes(spec)
              if node.get("format") in ("binary", "byte") or "contentEncoding" in node
              or (node.get("type") == "array" and node.get("items", {}).get("type") == "number")]
    assert named == shaped == []


def _network_imports(folder: Path) -> list[str]:
    """``file: module`` for each import of a network client under ``folder``, wherever in the
    file it is (a function's own import included)."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}: {name}" for name in names
                      if any(name == m or name.startswith(f"{m}.") for m in NETWORK_CLIENTS)]
    return found


def test_the_code_that_takes_faces_in_imports_no_network_client() -> None:
    assert _network_imports(ROOT / "api")  # the scan finds the CLI's own client
    assert _network_imports(ROOT / "consent") == _network_imports(ROOT / "engine") == []
