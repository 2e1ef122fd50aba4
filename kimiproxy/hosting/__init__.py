"""Running kimiproxy: gunicorn settings, the WSGI entry point and process helpers."""
