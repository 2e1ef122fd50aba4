"""Turning one file part into a local temporary file with a name, a MIME type and a kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO

from kimiproxy.errors import KimiProxyError
from kimiproxy.inputs.data_urls import decode_data_url
from kimiproxy.inputs.downloader import download
from kimiproxy.inputs.errors import bad_input, display_url, for_part, log_url
from kimiproxy.inputs.file_types import describe_file, filename_from_disposition, filename_from_url
from kimiproxy.inputs.parts import FilePart
from kimiproxy.inputs.settings import FetchSettings
from kimiproxy.inputs.spool import read_head

log = logging.getLogger(__name__)


@dataclass
class FetchedFile:
    """A file ready for upload: ``body`` is positioned at its start; :meth:`close` frees it."""

    where: str
    name: str
    mime_type: str
    kind: str  # "image" or "file"
    size: int
    body: IO[bytes]

    def close(self) -> None:
        self.body.close()


def fetch_part(part: FilePart, settings: FetchSettings) -> FetchedFile:
    """Decode or download ``part``; every error names the part (``messages[i].content[j]: …``)."""
    try:
        return _fetch(part, settings)
    except KimiProxyError as error:
        raise for_part(error, part.where) from None


def _fetch(part: FilePart, settings: FetchSettings) -> FetchedFile:
    if part.url[:5].lower() == "data:":
        decoded = decode_data_url(part.url, settings.max_bytes)
        body, size, declared = decoded.body, decoded.size, decoded.mime_type
        names = (part.filename, decoded.name)
    else:
        fetched = download(part.url, settings)
        body, size, declared = fetched.body, fetched.size, fetched.content_type
        names = (
            part.filename,
            filename_from_disposition(fetched.disposition),
            filename_from_url(fetched.url),
            filename_from_url(part.url),
        )
    try:
        if size == 0:
            what = (
                "the data URL"
                if part.url[:5].lower() == "data:"
                else (f"the file at {display_url(part.url)}")
            )
            raise bad_input(f"{what} is empty (0 bytes)", "empty_file")
        described = describe_file(
            number=part.number, head=read_head(body), declared_type=declared, names=names
        )
    except BaseException:
        body.close()
        raise
    log.info(
        "fetched %s from %s: %s (%s, %d bytes)",
        part.where,
        log_url(part.url),
        described.name,
        described.mime_type,
        size,
    )
    return FetchedFile(
        where=part.where,
        name=described.name,
        mime_type=described.mime_type,
        kind=described.kind,
        size=size,
        body=body,
    )
