"""Finding the file parts of a chat request and reading where each one's bytes are.

Only the last ``user`` message's parts are files for this turn (as in kimi-free-api); parts in
earlier messages are left out of the turn — their text is kept by the prompt — because clients
resend the whole history every turn and Kimi already saw those files when they were new.

Accepted part shapes (``url`` is ``http(s)://…`` or ``data:…``):

- ``{"type": "file", "file_url": {"url": url}}`` — kimi-free-api's format (``file_url`` may be the
  URL string itself);
- ``{"type": "image_url", "image_url": {"url": url}}`` — OpenAI's vision format, which may carry a
  document as well (``image_url`` may be the URL string itself);
- ``{"type": "file", "file": {"file_data": data, "filename": name}}`` — OpenAI's file format, where
  ``file_data`` is a data URL or bare base64.

Each part is named like ``messages[2].content[1]`` (its index in the original content array) in
every error about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kimiproxy.chat.request import ChatRequest
from kimiproxy.errors import InvalidRequest

SCHEMES = ("http", "https", "data")


@dataclass(frozen=True)
class FilePart:
    """One file part: where it is, the URL its bytes come from, and a name it gave itself."""

    where: str  # "messages[2].content[1]"
    url: str
    filename: str | None = None
    number: int = 1  # 1-based among the message's file parts


def _refuse(where: str, message: str, code: str = "invalid_file_part") -> InvalidRequest:
    return InvalidRequest(f"{where}: {message}", param=where, code=code)


def last_user_index(request: ChatRequest) -> int | None:
    for index in range(len(request.messages) - 1, -1, -1):
        if request.messages[index].role == "user":
            return index
    return None


def _content_index(request: ChatRequest, message_index: int, part: dict, fallback: int) -> int:
    """The part's index in the raw ``content`` array (text parts included)."""
    raw_messages = request.body.get("messages") if isinstance(request.body, dict) else None
    try:
        content = raw_messages[message_index]["content"]
    except (TypeError, KeyError, IndexError):
        return fallback
    if isinstance(content, list):
        for index, candidate in enumerate(content):
            if candidate is part:
                return index
    return fallback


def _url_of(part: dict, where: str) -> tuple[str, str | None]:
    kind = part.get("type")
    if kind == "image_url":
        value = part.get("image_url")
        url = value.get("url") if isinstance(value, dict) else value
        if not isinstance(url, str) or not url.strip():
            raise _refuse(where, "an image_url part needs image_url.url (an http(s) or data URL)")
        return url.strip(), None
    if kind == "file":
        value = part.get("file_url")
        if value is not None:
            url = value.get("url") if isinstance(value, dict) else value
            if not isinstance(url, str) or not url.strip():
                raise _refuse(where, "a file part needs file_url.url (an http(s) or data URL)")
            return url.strip(), None
        file = part.get("file")
        if isinstance(file, dict):
            name = file.get("filename")
            if name is not None and not isinstance(name, str):
                raise _refuse(where, "file.filename must be a string")
            data = file.get("file_data")
            if isinstance(data, str) and data.strip():
                data = data.strip()
                if data[:5].lower() != "data:":
                    data = "data:;base64," + data
                return data, name
            if file.get("file_id") is not None:
                raise _refuse(
                    where,
                    "file.file_id refers to OpenAI's file storage, which kimiproxy "
                    "does not have: send the file as file.file_data or file_url.url",
                    "unsupported_file_part",
                )
        raise _refuse(
            where, "a file part needs file_url.url (an http(s) or data URL) or file.file_data"
        )
    raise _refuse(where, f"content parts of type {kind!r} cannot carry a file")


def check_scheme(url: str, where: str) -> None:
    """Refuse anything but ``http``, ``https`` and ``data`` before any work is done."""
    scheme, sep, _ = url.partition(":")
    if not sep or scheme.lower() not in SCHEMES:
        shown = f"'{scheme}'" if sep and scheme.isascii() and len(scheme) < 20 else "none"
        raise _refuse(
            where,
            f"unsupported URL scheme {shown}: use an http:// or https:// URL or a data: URL",
            "unsupported_scheme",
        )


def file_parts(request: ChatRequest) -> list[FilePart]:
    """The file parts of the last user message, in order of appearance, checked for shape and
    scheme; raises :class:`InvalidRequest` naming the first bad one."""
    message_index = last_user_index(request)
    if message_index is None:
        return []
    found: list[FilePart] = []
    for position, part in enumerate(request.messages[message_index].parts):
        content_index = _content_index(request, message_index, part, position)
        where = f"messages[{message_index}].content[{content_index}]"
        url, name = _url_of(part, where)
        check_scheme(url, where)
        found.append(FilePart(where=where, url=url, filename=name, number=len(found) + 1))
    return found


def ignored_parts(request: ChatRequest) -> int:
    """How many file parts outside the last user message are left out of the turn."""
    last = last_user_index(request)
    return sum(len(m.parts) for i, m in enumerate(request.messages) if i != last)
