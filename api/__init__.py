"""The ways people use optinface: the FastAPI service, its web pages and the CLI."""
