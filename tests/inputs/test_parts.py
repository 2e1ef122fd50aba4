"""Finding file parts in a request: shapes, names of parts, which message counts."""

from __future__ import annotations

import pytest

from kimiproxy.errors import InvalidRequest
from kimiproxy.inputs import file_parts, ignored_parts
from kimiproxy.wire.openai_chat_request import parse_chat_request


def request_with(*messages):
    return parse_chat_request({"model": "kimi", "messages": list(messages)})


def user(*content):
    return {"role": "user", "content": list(content)}


TEXT = {"type": "text", "text": "what is in these?"}


def test_all_shapes_in_order_with_their_content_index():
    request = request_with(
        {"role": "system", "content": "be brief"},
        user(
            TEXT,
            {"type": "file", "file_url": {"url": "https://example.com/a.pdf"}},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,iVBO", "detail": "x"},
            },
            {"type": "text", "text": "and"},
            {"type": "image_url", "image_url": "https://example.com/b.png"},
            {
                "type": "file",
                "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "c.pdf"},
            },
            {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "d.pdf"}},
            {"type": "file", "file_url": "http://example.com/e.txt"},
        ),
    )
    parts = file_parts(request)
    assert [(p.where, p.url, p.filename, p.number) for p in parts] == [
        ("messages[1].content[1]", "https://example.com/a.pdf", None, 1),
        ("messages[1].content[2]", "data:image/png;base64,iVBO", None, 2),
        ("messages[1].content[4]", "https://example.com/b.png", None, 3),
        ("messages[1].content[5]", "data:application/pdf;base64,JVBE", "c.pdf", 4),
        ("messages[1].content[6]", "data:;base64,JVBERi0=", "d.pdf", 5),
        ("messages[1].content[7]", "http://example.com/e.txt", None, 6),
    ]


def test_only_the_last_user_message_counts():
    old = {"type": "file", "file_url": {"url": "https://example.com/old.pdf"}}
    new = {"type": "file", "file_url": {"url": "https://example.com/new.pdf"}}
    request = request_with(
        user(TEXT, old),
        {"role": "assistant", "content": "ok"},
        user(TEXT, new),
        {"role": "assistant", "content": "prefill"},
    )
    assert [p.url for p in file_parts(request)] == ["https://example.com/new.pdf"]
    assert [p.where for p in file_parts(request)] == ["messages[2].content[1]"]
    assert ignored_parts(request) == 1


def test_no_parts():
    assert file_parts(request_with({"role": "user", "content": "hi"})) == []


@pytest.mark.parametrize(
    ("part", "message", "code"),
    [
        (
            {"type": "file", "file_url": {"url": "ftp://example.com/a.pdf"}},
            "unsupported URL scheme 'ftp'",
            "unsupported_scheme",
        ),
        (
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}},
            "unsupported URL scheme 'file'",
            "unsupported_scheme",
        ),
        (
            {"type": "image_url", "image_url": {"url": "example.com/a.png"}},
            "unsupported URL scheme none",
            "unsupported_scheme",
        ),
        ({"type": "image_url", "image_url": {}}, "needs image_url.url", "invalid_file_part"),
        ({"type": "file", "file_url": {"url": ""}}, "needs file_url.url", "invalid_file_part"),
        ({"type": "file"}, "needs file_url.url", "invalid_file_part"),
        (
            {"type": "file", "file": {"file_id": "file-abc"}},
            "file.file_id refers",
            "unsupported_file_part",
        ),
    ],
)
def test_bad_parts_are_refused_by_name(part, message, code):
    request = request_with(user(TEXT, part))
    with pytest.raises(InvalidRequest) as caught:
        file_parts(request)
    assert caught.value.status == 400
    assert caught.value.param == "messages[0].content[1]"
    assert caught.value.message.startswith("messages[0].content[1]: ")
    assert message in caught.value.message
    assert caught.value.code == code
