"""One router per resource, all mounted under ``/v1`` except the health check."""
