"""The ``kimiproxy`` command line."""
