"""The links' base and the passkey origins are web addresses a browser can use, or refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from optinface.consent.web_addresses import require_base_url, require_origin

Rule = Callable[[str], str]


@pytest.mark.parametrize(("rule", "value"), [
    (require_base_url, "http://localhost:8000"),
    (require_base_url, "https://portal.example"),
    (require_base_url, "https://portal.example/optinface/"),
    (require_base_url, "http://[::1]:8000"),
    (require_origin, "https://portal.example"),
    (require_origin, "https://portal.example:8443"),
    (require_origin, "http://localhost:8000"),
    (require_origin, "https://localhost"),
])
def test_a_web_address_a_browser_uses_is_accepted_as_given(rule: Rule, value: str) -> None:
    assert rule(value) == value


@pytest.mark.parametrize(("rule", "value", "said"), [
    (require_base_url, "javascript:alert(1)", "not an http:// or https:// URL with a host"),
    (require_base_url, "https://", "not an http:// or https:// URL with a host"),
    (require_base_url, "portal.example", "not an http:// or https:// URL with a host"),
    (require_base_url, "https://ops:hunter2@portal.example", "names a user"),
    (require_base_url, "https://portal.example:99999", "its port is not a number"),
    (require_base_url, "https://portal.example/?next=x", "has a query or a fragment"),
    (require_base_url, "https://portal.example/#", "has a query or a fragment"),
    (require_base_url, "https://portal\n.example", "holds a space or a control character"),
    # clientDataJSON's origin is compared as text: each of these would refuse every passkey.
    (require_origin, "x", "not an http:// or https:// URL with a host"),
    (require_origin, "http://portal.example", "WebAuthn allows http on localhost only"),
    (require_origin, "https://portal.example/", "not an origin as a browser sends it"),
    (require_origin, "https://Portal.example", "not an origin as a browser sends it"),
    (require_origin, "https://portal.example:443", "not an origin as a browser sends it"),
    (require_origin, "https://portal.example/portal", "not an origin as a browser sends it"),
])
def test_a_web_address_no_browser_could_use_is_refused_in_plain_words(
        rule: Rule, value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said) as refused:
        rule(value)
    assert "hunter2" not in str(refused.value)
