"""File and image inputs: content parts of type ``file`` and ``image_url`` in the last user
message become files uploaded to Kimi before the answer.

For each request with such parts: every part is checked (shape, scheme), then all are fetched
concurrently — data URLs decoded, http(s) URLs downloaded behind the address guard, each into a
temporary file under ``KIMIPROXY_MAX_FILE_BYTES`` (see :mod:`kimiproxy.inputs`) — and only then,
when every file is in hand, uploaded concurrently with the protocol client. The ``rest``
protocol needs the chat first (its uploads belong to a chat), so the chat is created
(``context.ensure_chat()``) right before the uploads — or the conversation being continued is
used. The uploaded files go into ``context.files`` in the order the parts appear.

Any failure stops the other transfers and names the part (``messages[2].content[1]: …``);
temporary files are closed whatever happens, and a chat created for the request is deleted by the
``chat_cleanup`` plugin, which sees it in ``context.created_chats``. Kimi's web API has no call to
delete an uploaded file, so files already uploaded when a later one fails stay in the account (with
the ``rest`` protocol they belong to the deleted chat).

File parts in earlier messages are not uploaded again (their text is kept): see
:mod:`kimiproxy.inputs.parts`.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from kimiproxy import hookimpl
from kimiproxy.errors import InternalError, InvalidRequest, KimiProxyError, UpstreamError
from kimiproxy.inputs import (
    FetchedFile,
    FetchSettings,
    FilePart,
    fetch_part,
    file_parts,
    for_part,
    gather,
    ignored_parts,
)
from kimiproxy.upstream.events import UploadedFile

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.request import ChatRequest

log = logging.getLogger(__name__)
# Kimi's web page accepts up to 50 files in one message.
MAX_FILE_PARTS = 50
FETCH_CONCURRENCY = 4
UPLOAD_CONCURRENCY = 4


@hookimpl
def kimiproxy_prepare_request(request: ChatRequest, context: ChatContext) -> None:
    parts = file_parts(request)
    skipped = ignored_parts(request)
    if skipped:
        log.debug(
            "request %s: %d file part(s) in earlier messages are not uploaded again",
            context.request_id,
            skipped,
        )
    if not parts:
        return
    if len(parts) > MAX_FILE_PARTS:
        raise InvalidRequest(
            f"the last user message has {len(parts)} file parts; at most "
            f"{MAX_FILE_PARTS} are accepted",
            param=parts[MAX_FILE_PARTS].where,
            code="too_many_files",
        )
    settings = FetchSettings.from_settings(context.settings)
    files = gather(
        [partial(_fetch, part, settings) for part in parts],
        limit=FETCH_CONCURRENCY,
        discard=FetchedFile.close,
    )
    try:
        chat_id = request.conversation_id or context.ensure_chat()
        uploaded = gather(
            [partial(_upload, context, file, chat_id) for file in files], limit=UPLOAD_CONCURRENCY
        )
    finally:
        for file in files:
            file.close()
    log.info(
        "request %s: uploaded %d file(s): %s",
        context.request_id,
        len(uploaded),
        ", ".join(f"{f.name} ({f.mime_type}, {f.size} bytes)" for f in uploaded),
    )
    context.files.extend(uploaded)


def _fetch(part: FilePart, settings: FetchSettings) -> FetchedFile:
    try:
        return fetch_part(part, settings)
    except KimiProxyError:
        raise
    except Exception:
        log.exception("reading %s failed", part.where)
        raise InternalError(
            f"{part.where}: the proxy failed to read this file", param=part.where
        ) from None


def _upload(context: ChatContext, file: FetchedFile, chat_id: str | None) -> UploadedFile:
    file.body.seek(0)
    try:
        return context.client.upload_file(
            context.credential, file.name, file.mime_type, file.body, file.size, file.kind, chat_id
        )
    except KimiProxyError as error:
        raise _named(error, file) from None
    except Exception:
        log.exception("request %s: uploading %s failed", context.request_id, file.where)
        raise _named(UpstreamError("uploading the file to Kimi failed"), file) from None


def _named(error: KimiProxyError, file: FetchedFile) -> KimiProxyError:
    named = for_part(error, file.where)
    if file.name not in error.message:
        named.message = f"{file.where}: {file.name}: {error.message}"
        named.args = (named.message,)
    return named
