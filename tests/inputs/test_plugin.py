"""The file_inputs plugin with a fake upstream client: fetch, upload in order, name failures,
leave nothing open — directly through the hook and through the app."""

from __future__ import annotations

import time

import gevent
import pytest
from kimiproxy_plugins import file_inputs

from kimiproxy import create_app
from kimiproxy.chat.context import ChatContext
from kimiproxy.errors import KimiProxyError, RateLimited, UpstreamError, UpstreamTimeout
from kimiproxy.settings import load_config
from kimiproxy.upstream.events import ChatStarted, Finished, TextDelta, UploadedFile
from kimiproxy.wire.openai_chat_request import parse_chat_request

from .samples import Route, data_url, make_pdf, make_png

PDF, PNG = make_pdf(), make_png()


class FakeClient:
    """Records uploads (with the bytes read) and answers every turn with the files it got."""

    def __init__(self, protocol: str = "connect", fail: dict | None = None, delays=None):
        self.protocol = protocol
        self.fail = fail or {}  # file name -> exception to raise
        self.delays = delays or {}  # file name -> seconds (cooperative sleep)
        self.uploads: list[dict] = []
        self.bodies = []
        self.created: list[str] = []
        self.deleted: list[tuple[str, str]] = []
        self.turns = []

    def upload_file(self, credential, name, mime_type, body, size, kind, chat_id=None):
        self.bodies.append(body)
        gevent.sleep(self.delays.get(name, 0))
        if name in self.fail:
            raise self.fail[name]
        data = body.read()
        assert len(data) == size
        self.uploads.append(
            {
                "credential": credential,
                "name": name,
                "mime": mime_type,
                "data": data,
                "kind": kind,
                "chat_id": chat_id,
            }
        )
        return UploadedFile(
            id=f"f{len(self.uploads)}", name=name, size=size, mime_type=mime_type, kind=kind
        )

    def create_chat(self, credential, model):
        if self.protocol != "rest":
            return None
        self.created.append(f"chat{len(self.created) + 1}")
        return self.created[-1]

    def delete_chat(self, credential, chat_id):
        self.deleted.append((credential, chat_id))

    def chat(self, turn):
        self.turns.append(turn)
        yield ChatStarted(turn.chat_id or "chat-implicit")
        yield TextDelta(", ".join(f.name for f in turn.files) or "no files")
        yield Finished()

    def close(self):
        pass


def make_context(client, messages, **body):
    request = parse_chat_request({"model": "kimi", "messages": messages, **body})
    config = load_config({"FETCH_ALLOW": "127.0.0.1", "MAX_FILE_BYTES": 4096}, environ={})
    return ChatContext(
        settings=config, client=client, request=request, credentials=["tok"], credential="tok"
    )


def user(*parts, text="look"):
    return [{"role": "user", "content": [{"type": "text", "text": text}, *parts]}]


def file_part(url):
    return {"type": "file", "file_url": {"url": url}}


def image_part(url):
    return {"type": "image_url", "image_url": {"url": url}}


def test_files_are_uploaded_in_order_of_appearance_concurrently(file_server):
    file_server.routes["/docs/paper.pdf"] = Route(PDF, headers={"Content-Type": "application/pdf"})
    file_server.routes["/blob"] = Route(PNG, headers={"Content-Type": "application/octet-stream"})
    client = FakeClient(delays={"paper.pdf": 0.3, "pixel.png": 0.2, "blob.png": 0.1})
    context = make_context(
        client,
        user(
            file_part(file_server.url("/docs/paper.pdf")),
            image_part(data_url(PNG, "image/png", name="pixel.png")),
            image_part(file_server.url("/blob")),
        ),
    )
    started = time.monotonic()
    file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert time.monotonic() - started < 0.55  # the uploads overlapped
    assert [(f.name, f.mime_type, f.kind) for f in context.files] == [
        ("paper.pdf", "application/pdf", "file"),
        ("pixel.png", "image/png", "image"),
        ("blob.png", "image/png", "image"),
    ]
    assert [u["name"] for u in client.uploads] == ["blob.png", "pixel.png", "paper.pdf"]
    assert {u["name"]: u["data"] for u in client.uploads} == {
        "paper.pdf": PDF,
        "pixel.png": PNG,
        "blob.png": PNG,
    }
    assert all(u["chat_id"] is None for u in client.uploads)
    assert all(body.closed for body in client.bodies)
    assert context.created_chats == []


def test_rest_creates_the_chat_before_uploading():
    client = FakeClient(protocol="rest")
    context = make_context(client, user(file_part(data_url(PDF, "application/pdf"))))
    file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert client.uploads[0]["chat_id"] == "chat1"
    assert client.uploads[0]["name"] == "file-1.pdf"
    assert context.created_chats == [("tok", "chat1")]


def test_a_continued_conversation_is_used_for_uploads():
    client = FakeClient(protocol="rest")
    context = make_context(
        client, user(file_part(data_url(PDF, "application/pdf"))), conversation_id="existingchat"
    )
    file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert client.uploads[0]["chat_id"] == "existingchat"
    assert client.created == [] and context.created_chats == []


def test_no_parts_no_work():
    client = FakeClient(protocol="rest")
    context = make_context(client, [{"role": "user", "content": "hi"}])
    file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert context.files == [] and client.created == []


def test_a_failing_fetch_names_the_part_and_touches_nothing_upstream(file_server):
    client = FakeClient(protocol="rest")
    missing = file_server.url("/missing.pdf")
    context = make_context(
        client,
        user(
            image_part(data_url(PNG, "image/png")),
            file_part(missing),
        ),
    )
    with pytest.raises(KimiProxyError) as caught:
        file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert caught.value.status == 400
    assert caught.value.param == "messages[0].content[2]"
    assert caught.value.message == (
        f"messages[0].content[2]: could not fetch {missing}: HTTP 404 Not Found"
    )
    assert client.created == [] and client.uploads == []


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("data:application/pdf;base64,not*base64", 400, "not valid base64"),
        ("data:application/pdf;base64,", 400, "the data URL is empty"),
        ("data:;base64," + "QUFB" * 2000, 413, "larger than the limit of 4 KB (4096 bytes)"),
        ("gopher://example.com/x", 400, "unsupported URL scheme 'gopher'"),
        ("http://127.0.0.2/a.pdf", 400, "refusing to fetch http://127.0.0.2/a.pdf"),
    ],
)
def test_bad_inputs(url, status, text):
    context = make_context(FakeClient(), user(file_part(url)))
    with pytest.raises(KimiProxyError) as caught:
        file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert caught.value.status == status
    assert caught.value.message.startswith("messages[0].content[1]: ")
    assert text in caught.value.message


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (UpstreamError("Kimi could not parse the file"), 502, UpstreamError),
        (UpstreamTimeout("Kimi did not finish parsing in 60 s"), 504, UpstreamTimeout),
        (RateLimited("Kimi is throttling this account"), 429, RateLimited),
        (RuntimeError("bug"), 502, UpstreamError),
    ],
)
def test_upload_failures_keep_their_status_and_name_the_part(error, status, kind):
    client = FakeClient(protocol="rest", fail={"b.png": error})
    context = make_context(
        client,
        user(
            file_part(data_url(PDF, "application/pdf", name="a.pdf")),
            image_part(data_url(PNG, "image/png", name="b.png")),
        ),
    )
    with pytest.raises(KimiProxyError) as caught:
        file_inputs.kimiproxy_prepare_request(request=context.request, context=context)
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert caught.value.param == "messages[0].content[2]"
    assert caught.value.message.startswith("messages[0].content[2]: b.png: ")
    assert context.created_chats == [("tok", "chat1")]  # chat_cleanup deletes it
    assert all(body.closed for body in client.bodies)


# -- through the app ------------------------------------------------------------------------


@pytest.fixture
def app_client():
    client = FakeClient(protocol="rest")
    app = create_app({"LOAD_ENTRYPOINT_PLUGINS": False, "FETCH_ALLOW": "127.0.0.1"}, client=client)
    http = app.test_client()
    http.environ_base["HTTP_AUTHORIZATION"] = "Bearer tok-a"
    return client, http


def test_app_answers_with_the_files_in_the_turn(app_client):
    client, http = app_client
    response = http.post(
        "/v1/chat/completions",
        json={
            "model": "kimi",
            "messages": user(
                file_part(data_url(PDF, "application/pdf", name="a.pdf")),
                image_part(data_url(PNG, "image/png")),
            ),
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["choices"][0]["message"]["content"] == "a.pdf, image-2.png"
    assert [f.name for f in client.turns[0].files] == ["a.pdf", "image-2.png"]
    assert client.turns[0].has_files
    assert client.deleted == [("tok-a", "chat1")]


def test_app_error_is_an_openai_error_and_the_chat_is_deleted(app_client):
    client, http = app_client
    client.fail = {"a.pdf": UpstreamError("parse failed: unsupported file")}
    response = http.post(
        "/v1/chat/completions",
        json={
            "model": "kimi",
            "messages": user(
                file_part(data_url(PDF, "application/pdf", name="a.pdf")),
            ),
        },
    )
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["param"] == "messages[0].content[1]"
    assert error["message"] == "messages[0].content[1]: a.pdf: parse failed: unsupported file"
    assert client.deleted == [("tok-a", "chat1")]
    assert client.turns == []


def test_a_bad_allow_list_stops_the_app_from_starting():
    with pytest.raises(ValueError, match="KIMIPROXY_FETCH_ALLOW"):
        create_app(
            {"LOAD_ENTRYPOINT_PLUGINS": False, "FETCH_ALLOW": "nope nope"}, client=FakeClient()
        )
