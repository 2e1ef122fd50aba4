"""Names, MIME types and kinds of fetched files."""

from __future__ import annotations

import pytest

from kimiproxy.inputs.file_types import (
    clean_name,
    describe_file,
    filename_from_disposition,
    filename_from_url,
    kind_of,
    media_type,
)

from .samples import make_pdf, make_png

PDF, PNG = make_pdf(), make_png()


def test_declared_type_and_url_name():
    described = describe_file(
        number=1, head=PDF, declared_type="application/pdf", names=(None, "paper.pdf")
    )
    assert (described.name, described.mime_type, described.kind) == (
        "paper.pdf",
        "application/pdf",
        "file",
    )


def test_generic_type_gives_way_to_the_bytes():
    described = describe_file(number=2, head=PNG, declared_type="application/octet-stream")
    assert (described.name, described.mime_type, described.kind) == (
        "image-2.png",
        "image/png",
        "image",
    )


def test_text_plain_gives_way_to_a_binary_signature():
    assert describe_file(number=1, head=PDF, declared_type="text/plain").mime_type == (
        "application/pdf"
    )
    plain = describe_file(number=1, head=b"just words", declared_type="text/plain; charset=utf-8")
    assert (plain.mime_type, plain.name) == ("text/plain", "file-1.txt")


def test_extension_when_nothing_else_is_known():
    described = describe_file(number=3, head=b"# Title\n", names=("notes.md",))
    assert (described.name, described.mime_type) == ("notes.md", "text/markdown")
    unknown = describe_file(number=4, head=b"\x00\x01\x02")
    assert (unknown.name, unknown.mime_type, unknown.kind) == (
        "file-4.bin",
        "application/octet-stream",
        "file",
    )


def test_name_without_extension_gets_one():
    described = describe_file(number=1, head=PDF, names=("download",))
    assert described.name == "download.pdf"


def test_first_usable_name_wins():
    described = describe_file(number=1, head=PNG, names=(None, "", "/", "from-header.png", "x"))
    assert described.name == "from-header.png"


def test_svg_is_a_file_not_an_image():
    assert kind_of("image/svg+xml") == "file"
    assert kind_of("image/jpeg") == "image"
    assert kind_of("application/pdf") == "file"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf", "报告.pdf"),
        ('inline; filename="../../etc/passwd"', "passwd"),
        ("inline", None),
        (None, None),
    ],
)
def test_content_disposition(header, name):
    assert filename_from_disposition(header) == name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/docs/a%20b.pdf?x=1", "a b.pdf"),
        ("https://example.com/", None),
        ("https://example.com", None),
        ("https://example.com/download", "download"),
    ],
)
def test_name_from_url(url, name):
    assert filename_from_url(url) == name


def test_clean_name():
    assert clean_name("a\x00b\nc.pdf") == "a_b_c.pdf"
    assert clean_name("C:\\Users\\x\\file.docx") == "file.docx"
    assert clean_name("..") is None
    long = clean_name("n" * 500 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


def test_media_type():
    assert media_type("Application/PDF; charset=binary") == "application/pdf"
    assert media_type(None) == ""
