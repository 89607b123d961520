"""The model manifest and calibrated thresholds, shipped as package data (no weights)."""
