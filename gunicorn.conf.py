"""gunicorn reads this file by default: kimiproxy's settings live in
``kimiproxy.hosting.gunicorn_conf``."""

from kimiproxy.hosting.gunicorn_conf import *  # noqa: F403
