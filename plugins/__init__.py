"""kimiproxy's built-in plugins (importable as ``kimiproxy_plugins``), one concern per module."""
