"""Citation stripping: removes the search citations from the answer text when the request
(``"strip_citations": true``) or the settings (``KIMIPROXY_STRIP_CITATIONS``) ask for it.
The structured ``search_results`` stay on the response."""

from __future__ import annotations

from kimiproxy import hookimpl


@hookimpl
def kimiproxy_process_delta(delta, context) -> None:
    if delta.kind == "citation" and context.request.strip_citations:
        delta.text = ""


@hookimpl
def kimiproxy_process_message(message, context) -> None:
    if context.request.strip_citations:
        message.citations = ""
