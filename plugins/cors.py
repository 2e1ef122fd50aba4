"""CORS: lets browser-based clients (LobeChat, Open WebUI in the browser) call the API.
``KIMIPROXY_CORS_ORIGINS`` lists the allowed origins (``*`` for any, empty to turn CORS off)."""

from __future__ import annotations

from flask import Flask, Response, request

from kimiproxy import hookimpl
from kimiproxy.settings import Settings


@hookimpl
def kimiproxy_startup(app: Flask, settings: Settings) -> None:
    origins = settings.cors_origins
    if not origins:
        return

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            # The OpenAI SDKs send their own x-stainless-* headers: allow what the browser asks.
            asked = request.headers.get("Access-Control-Request-Headers")
            response.headers["Access-Control-Allow-Headers"] = (
                asked or "Authorization, Content-Type"
            )
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
            if "*" not in origins:
                response.headers.add("Vary", "Origin")
        return response
