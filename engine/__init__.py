"""The biometric engine: model manifest and loading, detect/align/embed, quality gate,
template protection and the erasable ANN index.

It imports nothing else of optinface, so it can be audited and benchmarked on its own.
"""
