"""Decoding data URLs: types, names, strict base64, the size cap."""

from __future__ import annotations

import base64
import os

import pytest

from kimiproxy.errors import InvalidRequest, PayloadTooLarge
from kimiproxy.inputs.data_urls import decode_data_url, parse_header

from .samples import make_pdf


def decoded_bytes(url: str, max_bytes: int = 1 << 20) -> bytes:
    decoded = decode_data_url(url, max_bytes)
    try:
        data = decoded.body.read()
        assert len(data) == decoded.size
        return data
    finally:
        decoded.body.close()


def test_base64_with_type_and_name():
    pdf = make_pdf()
    url = f"data:application/pdf;name=report%20Q1.pdf;base64,{base64.b64encode(pdf).decode()}"
    decoded = decode_data_url(url, 1 << 20)
    assert (decoded.mime_type, decoded.name, decoded.size) == (
        "application/pdf",
        "report Q1.pdf",
        len(pdf),
    )
    assert decoded.body.read() == pdf
    decoded.body.close()


def test_header_parsing():
    assert parse_header("") == (None, None, False)
    assert parse_header("IMAGE/PNG;base64") == ("image/png", None, True)
    assert parse_header('text/plain;charset=utf-8;filename="a.txt"') == (
        "text/plain",
        "a.txt",
        False,
    )
    assert parse_header("not a type;base64") == (None, None, True)


def test_large_payload_decodes_across_chunks():
    data = os.urandom(300_001)
    assert decoded_bytes("data:;base64," + base64.b64encode(data).decode()) == data


def test_whitespace_and_missing_padding_are_tolerated():
    data = b"hello world!!"
    text = base64.b64encode(data).decode()
    wrapped = "\n".join(text[i : i + 4] for i in range(0, len(text), 4))
    assert decoded_bytes("data:text/plain;base64," + wrapped) == data
    assert decoded_bytes("data:text/plain;base64," + text.rstrip("=")) == data


@pytest.mark.parametrize(
    "payload",
    ["abc!def=", "aGVsbG8=aGVsbG8=", "a", "aGVsbG8===", "aGVs*G8", "aGVsbG8-_w==", "héllo==="],
)
def test_invalid_base64_is_refused(payload):
    with pytest.raises(InvalidRequest) as caught:
        decode_data_url("data:application/pdf;base64," + payload, 1 << 20)
    assert caught.value.status == 400
    assert "not valid base64" in caught.value.message
    assert caught.value.code == "invalid_base64"


def test_percent_encoded_data():
    assert decoded_bytes("data:text/plain,hello%20world%21") == b"hello world!"


def test_no_comma_is_refused():
    with pytest.raises(InvalidRequest, match="no ','"):
        decode_data_url("data:application/pdf;base64", 100)


def test_size_cap_refuses_before_decoding():
    text = base64.b64encode(b"x" * 1001).decode()
    with pytest.raises(PayloadTooLarge) as caught:
        decode_data_url("data:;base64," + text, 1000)
    assert caught.value.status == 413
    assert "1000 bytes" in caught.value.message
    assert "KIMIPROXY_MAX_FILE_BYTES" in caught.value.message
    assert decoded_bytes("data:;base64," + base64.b64encode(b"x" * 1000).decode(), 1000)
    with pytest.raises(PayloadTooLarge):
        decode_data_url("data:text/plain," + "a" * 11, 10)


def test_empty_payload_decodes_to_zero_bytes():
    decoded = decode_data_url("data:application/pdf;base64,", 100)
    assert decoded.size == 0
    decoded.body.close()
