"""gunicorn reads this file by default: kimiproxy's settings live in ``kimiproxy.gunicorn_conf``."""

from kimiproxy.gunicorn_conf import *  # noqa: F403
