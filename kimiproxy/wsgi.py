"""The WSGI app for plain gunicorn users:
``gunicorn -c python:kimiproxy.gunicorn_conf kimiproxy.wsgi:app``."""

from . import create_app

app = create_app()
