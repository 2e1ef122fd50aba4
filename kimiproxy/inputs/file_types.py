"""A fetched file's name, MIME type and kind (``image`` or ``file``).

The MIME type comes from, in order: what the source declared (the data URL's type or the
``Content-Type`` header) unless it is a generic one like ``application/octet-stream``; the bytes
themselves (the ``filetype`` library reads the magic numbers); the file name's extension
(``mimetypes``); else ``application/octet-stream``. A declared ``text/plain`` gives way to a
binary signature found in the bytes (servers label unknown files that way).

The name comes from the part itself (``file.filename`` or a data URL's ``name=``), the
``Content-Disposition`` header, or the last segment of the URL path; without one it is
``file-<n>`` / ``image-<n>`` (``n`` counts the message's file parts from 1). A name without an
extension gets the MIME type's, since Kimi reads files by their extension.
"""

from __future__ import annotations

import email.message
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import filetype

DEFAULT_MIME = "application/octet-stream"
GENERIC_TYPES = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/unknown",
        "application/x-download",
        "application/force-download",
        "application/download",
        "application/x-unknown",
    }
)
NOT_IMAGES = frozenset({"image/svg+xml"})  # text that Kimi should read, not look at
MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


@dataclass(frozen=True)
class FileType:
    name: str
    mime_type: str
    kind: str  # "image" or "file"


def media_type(header: str | None) -> str:
    """``text/html; charset=utf-8`` → ``text/html`` (lowercase); ``""`` when absent."""
    return (header or "").split(";", 1)[0].strip().lower()


def filename_from_disposition(header: str | None) -> str | None:
    """The file name in a ``Content-Disposition`` header (``filename*`` included)."""
    if not header:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = header
    try:
        name = message.get_filename()
    except (ValueError, LookupError):
        return None
    return clean_name(name) if name else None


def filename_from_url(url: str) -> str | None:
    """The last segment of the URL's path, percent-decoded (``/docs/a%20b.pdf`` → ``a b.pdf``)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    return clean_name(unquote(posixpath.basename(path)))


def clean_name(name: str | None) -> str | None:
    """A name without directories or control characters, at most ``MAX_NAME_CHARS`` long."""
    if not name:
        return None
    name = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().strip(".")
    if not name:
        return None
    if len(name) > MAX_NAME_CHARS:
        stem, ext = posixpath.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: MAX_NAME_CHARS - len(ext)] + ext
    return name


def sniff(head: bytes) -> str | None:
    """The MIME type the bytes' signature reveals, if any."""
    try:
        return filetype.guess_mime(head) if head else None
    except (TypeError, ValueError):
        return None


def kind_of(mime_type: str) -> str:
    """Images go up as images, everything else as files."""
    return "image" if mime_type.startswith("image/") and mime_type not in NOT_IMAGES else "file"


def extension_for(mime_type: str) -> str:
    return mimetypes.guess_extension(mime_type, strict=False) or ".bin"


def choose_mime(declared: str | None, head: bytes, name: str | None) -> str:
    declared = media_type(declared)
    sniffed = sniff(head)
    if declared and declared not in GENERIC_TYPES and not (sniffed and declared == "text/plain"):
        return declared
    if sniffed:
        return sniffed
    if name:
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed:
            return guessed
    return DEFAULT_MIME


def describe_file(
    *,
    number: int,
    head: bytes,
    declared_type: str | None = None,
    names: tuple[str | None, ...] = (),
) -> FileType:
    """Name, MIME type and kind of a file. ``names`` are candidate names, best first (the part's
    own, then the data URL's or ``Content-Disposition``'s, then the URL path's); ``head`` is the
    start of the content."""
    name = next((clean_name(n) for n in names if clean_name(n)), None)
    mime = choose_mime(declared_type, head, name)
    kind = kind_of(mime)
    if not name:
        name = f"{kind}-{number}"
    if not posixpath.splitext(name)[1]:
        name += extension_for(mime)
    return FileType(name=name, mime_type=mime, kind=kind)
