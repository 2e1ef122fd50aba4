"""File and image inputs: content parts of type ``file`` and ``image_url`` in the last user
message become files uploaded to Kimi before the answer."""

from __future__ import annotations

from kimiproxy import hookimpl
from kimiproxy.errors import InvalidRequest


@hookimpl
def kimiproxy_prepare_request(request, context) -> None:
    for index, message in enumerate(request.messages):
        if message.parts:
            raise InvalidRequest(
                "file and image inputs are not supported yet", param=f"messages[{index}].content"
            )
