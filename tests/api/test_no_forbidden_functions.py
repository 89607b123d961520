"""What the API must never offer, checked on its OpenAPI schema: no ingestion from a URL, a
stream or a camera feed (AI Act art. 5(1)(e), P-39.1 s. 6), no attribute or emotion inference
(LCCJTI art. 44 al. 2, AI Act art. 5(1)(f),(g))."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings

FORBIDDEN_INPUTS = {"url", "source_url", "image_url", "stream", "video", "rtsp", "camera",
                    "feed", "crawl"}
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


def _openapi() -> dict[str, Any]:
    unopened = Path(tempfile.mkdtemp(prefix="optinface-unopened-"))
    return create_app(ApiSettings(data_dir=unopened)).openapi()


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
