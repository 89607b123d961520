"""The JSON and TOML someone hands over: every way it is broken is one refusal, never a
traceback (bad-input test 18, #2 and #3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optinface.engine.documents import json_from
from optinface.engine.errors import ManifestUnreadable
from optinface.engine.manifest import load_manifest
from optinface.engine.thresholds import load_thresholds

DEEP = 5000  # deeper than Python's parsers recurse


@pytest.mark.parametrize(("load", "what"), [
    pytest.param(load_manifest, "model manifest", id="OPTINFACE_MANIFEST_PATH"),
    pytest.param(load_thresholds, "thresholds file", id="OPTINFACE_THRESHOLDS_PATH"),
])
@pytest.mark.parametrize("written", [
    pytest.param(b'a = "\xff\xfe"\n', id="not-utf8"),
    pytest.param(b"a = " + b"[" * DEEP + b"]" * DEEP + b"\n", id="nested-too-deep"),
])
def test_a_toml_file_not_utf8_or_nested_too_deep_is_unreadable_in_one_line(
        tmp_path: Path, load: Callable[[Path], Any], what: str, written: bytes) -> None:
    """A UnicodeDecodeError (or a RecursionError) traceback from tomllib before: each loader
    listed only the TOML syntax error and OSError."""
    path = tmp_path / "given.toml"
    path.write_bytes(written)
    with pytest.raises(ManifestUnreadable) as refused:
        load(path)
    assert str(refused.value).startswith(f"{what} {path} cannot be read: ")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("text", "said"), [
    pytest.param('{"a": ' + "1" * 5000 + "}", "Exceeds the limit (4300 digits) for integer"
                 " string conversion: value has 5000 digits", id="digit-limit"),
    pytest.param("[" * 100_000 + "]" * 100_000, "maximum recursion depth exceeded",
                 id="nested-too-deep"),
    pytest.param(b'{"a": "\xff"}', "'utf-8' codec can't decode byte 0xff", id="not-utf8"),
    pytest.param("{", "Expecting property name", id="not-json"),
])
def test_json_that_cannot_be_read_is_one_value_error(text: str | bytes, said: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(said)}"):
        json_from(text)


@pytest.mark.parametrize("text", [
    pytest.param('{"a": 1, "a": 2}', id="top-level"),
    pytest.param('[{"receipt": {"piiPrincipalId": "x", "piiPrincipalId": "y"}}]', id="nested"),
    pytest.param(b'{"b": {"a": 1, "a": 1}}', id="same-value-bytes"),
])
def test_an_object_naming_a_key_twice_is_refused_at_any_depth(text: str | bytes) -> None:
    """Python keeps the last value, another reader the first (red team 7, #8 (c)): such a file
    says two things, and no file optinface writes is one."""
    with pytest.raises(ValueError, match=r'^an object names the key "(a|piiPrincipalId)" twice$'):
        json_from(text)


@pytest.mark.parametrize("text", [
    pytest.param(b'\xef\xbb\xbf{"a": [1]}', id="bytes"),
    pytest.param('\ufeff{"a": [1]}', id="text"),
])
def test_a_byte_order_mark_before_the_json_is_skipped(text: str | bytes) -> None:
    """What an older Notepad saves (red team 7, #11) is the same document."""
    assert json_from(text) == {"a": [1]}


def test_bytes_in_another_encoding_than_utf8_are_refused() -> None:
    """A UTF-16 file (``json.loads`` would guess its encoding) is not the UTF-8 asked for."""
    with pytest.raises(ValueError, match="'utf-8' codec can't decode"):
        json_from('{"a": 1}'.encode("utf-16"))
