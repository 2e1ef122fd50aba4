"""File and image inputs: reading file parts of a chat request into local temporary files.

``file_parts(request)`` finds and checks the parts, ``fetch_part(part, settings)`` decodes a data
URL or downloads an http(s) URL behind the address guard into a :class:`FetchedFile`, and
``gather`` runs several of those concurrently in greenlets. The ``file_inputs`` plugin uploads the
results with the protocol client.
"""

from kimiproxy.inputs.errors import for_part
from kimiproxy.inputs.fetch import FetchedFile, fetch_part
from kimiproxy.inputs.gather import gather
from kimiproxy.inputs.parts import FilePart, file_parts, ignored_parts
from kimiproxy.inputs.settings import FetchSettings

__all__ = [
    "FetchSettings",
    "FetchedFile",
    "FilePart",
    "fetch_part",
    "file_parts",
    "for_part",
    "gather",
    "ignored_parts",
]
