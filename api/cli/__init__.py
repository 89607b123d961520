"""The ``optinface`` command line: one module per command group."""
