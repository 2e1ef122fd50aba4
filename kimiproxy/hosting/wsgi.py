"""The WSGI app for plain gunicorn users:
``gunicorn -c python:kimiproxy.hosting.gunicorn_conf kimiproxy.hosting.wsgi:app``."""

from kimiproxy import create_app

app = create_app()
