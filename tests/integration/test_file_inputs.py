"""End to end: file and image inputs through the openai SDK → kimiproxy under gunicorn/gevent →
the Kimi emulator, for both protocols, ``connect`` and ``rest``, streamed and not.

Files come from a local file server thread on 127.0.0.1 (allowed with KIMIPROXY_FETCH_ALLOW) or
from data URLs; the emulator answers with a ``File <name> (<mime>, <size> bytes, sha256 <16 hex>)``
line per file it received, and its record shows what was uploaded and that every chat the request
created was deleted.
"""

from __future__ import annotations

import base64
import hashlib
import time

import openai
import pytest

from tests.helpers import wait_until
from tests.inputs.samples import FileServer, Route, data_url, make_pdf, make_png

PROTOCOLS = ["connect", "rest"]
LIMIT = 100_000  # KIMIPROXY_MAX_FILE_BYTES for these proxies
ALLOWED_ENV = {"KIMIPROXY_FETCH_ALLOW": "127.0.0.1", "KIMIPROXY_MAX_FILE_BYTES": str(LIMIT)}
PDF = make_pdf("Quarterly report")
PDF2 = make_pdf("Second document")
PNG = make_png()
PNG2 = make_png(3, 1, (0, 128, 255))
QUESTION = {"type": "text", "text": "What is in these files?"}
SLOW = 1.0  # seconds the file server waits before answering the /slow/ files


def file_line(name: str, mime: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"File {name} ({mime}, {len(data)} bytes, sha256 {digest})"


def no_chat_left(emulator) -> bool:
    return wait_until(lambda: emulator.undeleted_chats() == [])


@pytest.fixture(scope="module")
def files():
    server = FileServer()
    meta = "http://169.254.169.254/latest/meta-data/"
    server.routes.update(
        {
            "/docs/report.pdf": Route(PDF, headers={"Content-Type": "application/pdf"}),
            "/docs/second.pdf": Route(PDF2, headers={"Content-Type": "application/pdf"}),
            "/img/pixel.png": Route(PNG, headers={"Content-Type": "image/png"}),
            "/img/wide.png": Route(PNG2, headers={"Content-Type": "image/png"}),
            "/download": Route(PDF, headers={"Content-Type": "application/octet-stream"}),
            "/empty.pdf": Route(b"", headers={"Content-Type": "application/pdf"}),
            "/big.pdf": Route(b"%PDF" + b"0" * LIMIT, headers={"Content-Type": "application/pdf"}),
            "/big-stream.bin": Route(
                lambda: (b"1" * 10_000 for _ in range(20)), content_length=False
            ),
            "/moved.pdf": Route(status=302, headers={"Location": "/docs/report.pdf"}),
            "/slow/a.pdf": Route(PDF, headers={"Content-Type": "application/pdf"}, delay=SLOW),
            "/slow/b.pdf": Route(PDF2, headers={"Content-Type": "application/pdf"}, delay=SLOW),
            "/slow/c.png": Route(PNG, headers={"Content-Type": "image/png"}, delay=SLOW),
            "/to-metadata": Route(status=302, headers={"Location": meta}),
        }
    )
    server.start()
    server.routes["/to-ipv6-loopback"] = Route(
        status=307, headers={"Location": f"http://[::1]:{server.port}/docs/report.pdf"}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=PROTOCOLS)
def protocol(request) -> str:
    return request.param


@pytest.fixture
def allowed(proxy_factory, emulator, protocol):
    """A proxy that may fetch from 127.0.0.1, with a 100 KB file cap."""
    emulator.reset()
    return proxy_factory(protocol, **ALLOWED_ENV)


def ask(proxy, parts, stream: bool = False) -> str:
    client = proxy.client(timeout=60)
    messages = [{"role": "user", "content": [QUESTION, *parts]}]
    if not stream:
        answer = client.chat.completions.create(model="kimi", messages=messages)
        return answer.choices[0].message.content
    chunks = client.chat.completions.create(model="kimi", messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def refused(proxy, parts, stream: bool = False) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        ask(proxy, parts, stream)
    return caught.value


def file_part(url: str) -> dict:
    return {"type": "file", "file_url": {"url": url}}


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


# -- files that work ------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_pdf_and_png_by_http_url(allowed, emulator, files, stream):
    answer = ask(
        allowed,
        [file_part(files.url("/docs/report.pdf")), image_part(files.url("/img/pixel.png"))],
        stream,
    )
    pdf_line = file_line("report.pdf", "application/pdf", PDF)
    png_line = file_line("pixel.png", "image/png", PNG)
    assert pdf_line in answer and png_line in answer
    assert answer.index(pdf_line) < answer.index(png_line)
    assert "What is in these files?" in answer
    uploaded = {f["name"]: f for f in emulator.files()}
    assert uploaded["report.pdf"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (uploaded["report.pdf"]["kind"], uploaded["pixel.png"]["kind"]) == ("file", "image")
    assert uploaded["pixel.png"]["mime"] == "image/png"
    assert no_chat_left(emulator)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_pdf_and_png_by_data_url(allowed, emulator, stream):
    answer = ask(
        allowed,
        [
            file_part(data_url(PDF, "application/pdf", name="notes.pdf")),
            image_part(data_url(PNG, "image/png")),
        ],
        stream,
    )
    assert file_line("notes.pdf", "application/pdf", PDF) in answer
    assert file_line("image-2.png", "image/png", PNG) in answer
    assert no_chat_left(emulator)


def test_several_files_at_once_keep_their_order(allowed, emulator, files):
    parts = [
        image_part(files.url("/img/wide.png")),
        file_part(files.url("/docs/second.pdf")),
        file_part(data_url(PDF, "application/pdf", name="inline.pdf")),
        image_part(files.url("/img/pixel.png")),
        file_part(files.url("/moved.pdf")),  # a redirect to report.pdf
    ]
    answer = ask(allowed, parts)
    lines = [
        file_line("wide.png", "image/png", PNG2),
        file_line("second.pdf", "application/pdf", PDF2),
        file_line("inline.pdf", "application/pdf", PDF),
        file_line("pixel.png", "image/png", PNG),
        file_line("report.pdf", "application/pdf", PDF),
    ]
    positions = [answer.find(line) for line in lines]
    assert -1 not in positions, answer
    assert positions == sorted(positions)
    assert len(emulator.files()) == 5
    assert no_chat_left(emulator)


def test_files_are_fetched_and_uploaded_concurrently(allowed, emulator, files):
    """Three downloads that each take SLOW seconds: fetched one after the other (and uploaded one
    after the other) the request would take well over 3 × SLOW."""
    parts = [file_part(files.url(p)) for p in ("/slow/a.pdf", "/slow/b.pdf", "/slow/c.png")]
    started = time.monotonic()
    answer = ask(allowed, parts)
    elapsed = time.monotonic() - started
    assert answer.count("File ") == 3
    assert elapsed < 3 * SLOW, f"took {elapsed:.2f} s"
    assert no_chat_left(emulator)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_image_url_carrying_a_document(allowed, emulator, files, stream):
    """An ``image_url`` part may carry a PDF; a generic Content-Type is resolved from the bytes."""
    answer = ask(allowed, [image_part(files.url("/download"))], stream)
    assert file_line("download.pdf", "application/pdf", PDF) in answer
    assert [(f["name"], f["kind"]) for f in emulator.files()] == [("download.pdf", "file")]
    assert no_chat_left(emulator)


def test_openai_file_data_format(allowed, emulator):
    part = {
        "type": "file",
        "file": {"filename": "sdk.pdf", "file_data": base64.b64encode(PDF).decode()},
    }
    assert file_line("sdk.pdf", "application/pdf", PDF) in ask(allowed, [part])
    assert no_chat_left(emulator)


# -- bad input ------------------------------------------------------------------------------


def assert_refusal(error, emulator, status: int, where: str, *texts: str) -> None:
    assert error.status_code == status, error.body
    assert error.body["param"] == where
    assert error.body["message"].startswith(f"{where}: "), error.body["message"]
    for text in texts:
        assert text in error.body["message"], error.body["message"]
    assert no_chat_left(emulator)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_unreachable_url_names_the_status(allowed, emulator, files, stream):
    url = files.url("/nothing-here.pdf")
    error = refused(allowed, [image_part(data_url(PNG, "image/png")), file_part(url)], stream)
    assert_refusal(
        error, emulator, 400, "messages[0].content[2]", f"could not fetch {url}: HTTP 404"
    )
    assert emulator.files() == []  # nothing was uploaded: every file is fetched first


def test_unreachable_host(allowed, emulator):
    from kimiproxy.hosting.processes import free_port

    url = f"http://127.0.0.1:{free_port()}/a.pdf"
    error = refused(allowed, [file_part(url)])
    assert_refusal(
        error,
        emulator,
        400,
        "messages[0].content[1]",
        f"could not fetch {url}: the server could not be reached",
    )


@pytest.mark.parametrize("path", ["/big.pdf", "/big-stream.bin"])
def test_file_too_large(allowed, emulator, files, path):
    error = refused(allowed, [file_part(files.url(path))])
    assert_refusal(
        error,
        emulator,
        413,
        "messages[0].content[1]",
        "larger than the limit of 97.7 KB (100000 bytes)",
        "KIMIPROXY_MAX_FILE_BYTES",
    )


def test_data_url_too_large(allowed, emulator):
    error = refused(allowed, [file_part(data_url(b"%PDF" + b"1" * LIMIT, "application/pdf"))])
    assert_refusal(
        error,
        emulator,
        413,
        "messages[0].content[1]",
        "the data URL is larger than the limit of 97.7 KB (100000 bytes)",
    )


def test_invalid_base64(allowed, emulator):
    error = refused(allowed, [file_part("data:application/pdf;base64,JVBERi0xLjQK*not*base64")])
    assert_refusal(
        error, emulator, 400, "messages[0].content[1]", "the data URL is not valid base64"
    )


@pytest.mark.parametrize("source", ["http", "data"])
def test_empty_file(allowed, emulator, files, source):
    url = files.url("/empty.pdf") if source == "http" else "data:application/pdf;base64,"
    error = refused(allowed, [file_part(url)])
    assert_refusal(error, emulator, 400, "messages[0].content[1]", "is empty (0 bytes)")


@pytest.mark.parametrize("url", ["ftp://example.com/a.pdf", "file:///etc/passwd"])
def test_unsupported_scheme(allowed, emulator, url):
    error = refused(allowed, [image_part(url)])
    assert_refusal(error, emulator, 400, "messages[0].content[1]", "unsupported URL scheme")


def test_loopback_is_blocked_by_default(proxy, emulator, files):
    url = files.url("/docs/report.pdf")
    hits = files.hits.get("/docs/report.pdf", 0)
    error = refused(proxy, [file_part(url)])
    assert_refusal(
        error,
        emulator,
        400,
        "messages[0].content[1]",
        f"refusing to fetch {url}",
        "loopback",
        "KIMIPROXY_FETCH_ALLOW",
    )
    assert files.hits.get("/docs/report.pdf", 0) == hits  # never requested


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/to-metadata", "http://169.254.169.254/latest/meta-data/"),
        ("/to-ipv6-loopback", "http://[::1]:{port}/docs/report.pdf"),
    ],
)
def test_redirect_to_a_blocked_address(allowed, emulator, files, path, target):
    target = target.format(port=files.port)
    error = refused(allowed, [file_part(files.url(path))])
    assert_refusal(
        error,
        emulator,
        400,
        "messages[0].content[1]",
        f"refusing to fetch {files.url(path)} (redirected to {target})",
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_upload_failure(allowed, emulator, files, stream):
    emulator.fault("upload_fail")
    error = refused(allowed, [file_part(files.url("/docs/report.pdf"))], stream)
    assert_refusal(error, emulator, 502, "messages[0].content[1]")
    assert "report.pdf" in error.body["message"]


def test_parse_failure(allowed, emulator):
    emulator.fault("parse_fail")
    error = refused(allowed, [file_part(data_url(PDF, "application/pdf", name="bad.pdf"))])
    assert_refusal(error, emulator, 502, "messages[0].content[1]", "bad.pdf")


def test_parse_timeout(proxy_factory, emulator, protocol):
    emulator.reset()
    proxy = proxy_factory(protocol, KIMIPROXY_FILE_PARSE_TIMEOUT="2", **ALLOWED_ENV)
    emulator.fault("parse_hang")
    error = refused(proxy, [file_part(data_url(PDF, "application/pdf", name="slow.pdf"))])
    assert_refusal(error, emulator, 504, "messages[0].content[1]", "slow.pdf")


def test_second_file_failing_upload_leaves_nothing_behind(allowed, emulator, files):
    emulator.fault("upload_fail")
    parts = [file_part(files.url("/docs/report.pdf")), file_part(files.url("/docs/second.pdf"))]
    error = refused(allowed, parts)
    assert error.status_code == 502
    assert error.body["param"] in ("messages[0].content[1]", "messages[0].content[2]")
    assert no_chat_left(emulator)
