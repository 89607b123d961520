"""optinface: consent-first face matching.

The one import name of the project. Its sub-packages live at the repository's top level and are
linked here so the wheel installs them as ``optinface.engine`` (the biometric engine),
``optinface.consent`` (the compliance core) and ``optinface.api`` (HTTP API, pages and CLI), with
``optinface/models`` holding the model manifest and calibrated thresholds.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("optinface")
except PackageNotFoundError:  # a checkout used without installing it
    __version__ = "0.0.0"
