"""Helpers the tests share: plain classes and functions, never fixtures.

Fixtures live in the ``conftest.py`` of the folder that uses them; what they and the tests build
with (a deployment, a declared world, a fake clock, an erasure check) lives here, so that no test
module imports from a ``conftest.py``.
"""
