"""The compliance core: consent ledger, gates, erasure, access, audit chain and register.

The API, the CLI and notebooks go through :class:`consent.service.OptinFace` only.
"""
