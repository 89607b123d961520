"""Benchmarks: scripts with fixed seeds that write JSON + PNG to ``benchmarks/results/``.

Imported first, whichever benchmark runs: some import onnxruntime (or insightface, which does)
before any module of optinface, and :mod:`optinface.engine` must turn onnxruntime's usage events
off before that import.
"""

import optinface.engine  # noqa: F401
