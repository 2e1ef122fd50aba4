"""Downloading URLs from a local file server: the guard on every hop, limits, timeouts, errors."""

from __future__ import annotations

import dataclasses
import time

import pytest

from kimiproxy.allow_list import parse_allow_list
from kimiproxy.errors import InvalidRequest, PayloadTooLarge
from kimiproxy.hosting.processes import free_port
from kimiproxy.inputs import FetchSettings
from kimiproxy.inputs.downloader import download

from .samples import Route, make_pdf


def fetch(url: str, settings: FetchSettings) -> tuple[bytes, object]:
    result = download(url, settings)
    try:
        data = result.body.read()
        assert len(data) == result.size
        return data, result
    finally:
        result.body.close()


def test_download_with_headers(file_server, settings):
    pdf = make_pdf()
    file_server.routes["/files/a.pdf"] = Route(
        pdf,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="Report.pdf"',
        },
    )
    data, result = fetch(file_server.url("/files/a.pdf"), settings)
    assert data == pdf
    assert result.content_type == "application/pdf"
    assert result.disposition == 'attachment; filename="Report.pdf"'


def test_loopback_is_blocked_without_the_allow_list(file_server, settings):
    file_server.routes["/a.pdf"] = Route(b"secret")
    blocked = dataclasses.replace(settings, allow=parse_allow_list(""))
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(InvalidRequest) as caught:
            download(file_server.url("/a.pdf", host=host), blocked)
        assert caught.value.status == 400
        assert caught.value.code == "fetch_blocked"
        assert caught.value.message.startswith(f"refusing to fetch http://{host}:")
        assert "KIMIPROXY_FETCH_ALLOW" in caught.value.message
    assert file_server.hits == {}  # no request ever reached the server


def test_http_error_status_is_named(file_server, settings):
    url = file_server.url("/missing.pdf")
    with pytest.raises(InvalidRequest) as caught:
        download(url, settings)
    assert caught.value.message == f"could not fetch {url}: HTTP 404 Not Found"
    assert caught.value.code == "fetch_failed"


def test_redirects_are_followed(file_server, settings):
    file_server.routes["/start"] = Route(status=302, headers={"Location": "/middle"})
    file_server.routes["/middle"] = Route(
        status=301, headers={"Location": file_server.url("/final.pdf")}
    )
    file_server.routes["/final.pdf"] = Route(b"%PDF-1.4 final")
    data, result = fetch(file_server.url("/start"), settings)
    assert data == b"%PDF-1.4 final"
    assert result.url.endswith("/final.pdf")


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:{port}/a",
        "http://127.0.0.2:{port}/a",
        "http://[::ffff:a00:1]:{port}/a",
    ],
)
def test_redirect_to_a_blocked_address_is_refused(file_server, settings, target):
    file_server.routes["/go"] = Route(
        status=307, headers={"Location": target.format(port=file_server.port)}
    )
    file_server.routes["/a"] = Route(b"internal")
    with pytest.raises(InvalidRequest) as caught:
        download(file_server.url("/go"), settings)
    assert caught.value.code == "fetch_blocked"
    redirected = target.format(port=file_server.port)
    assert caught.value.message.startswith(
        f"refusing to fetch {file_server.url('/go')} (redirected to {redirected}): "
    )
    assert "/a" not in file_server.hits


def test_mapped_form_of_an_allowed_address_is_allowed(file_server, settings):
    file_server.routes["/go"] = Route(
        status=302, headers={"Location": f"http://[::ffff:7f00:1]:{file_server.port}/a"}
    )
    file_server.routes["/a"] = Route(b"same host")
    assert fetch(file_server.url("/go"), settings)[0] == b"same host"


def test_too_many_redirects(file_server, settings):
    file_server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(InvalidRequest, match="more than 3 redirects"):
        download(file_server.url("/loop"), settings)
    assert file_server.hits["/loop"] == 4


def test_redirect_to_another_scheme_is_refused(file_server, settings):
    file_server.routes["/ftp"] = Route(status=302, headers={"Location": "ftp://example.com/a"})
    with pytest.raises(InvalidRequest) as caught:
        download(file_server.url("/ftp"), settings)
    assert caught.value.code == "unsupported_scheme"


def test_content_length_over_the_cap_is_refused_before_reading(file_server, settings):
    def body():  # would take 10 s to send: the download must not wait for it
        for _ in range(100):
            time.sleep(0.1)
            yield b"x" * 1000

    file_server.routes["/big"] = Route(body(), headers={"Content-Length": "100000"})
    started = time.monotonic()
    with pytest.raises(PayloadTooLarge) as caught:
        download(file_server.url("/big"), settings)
    assert time.monotonic() - started < 2
    assert caught.value.status == 413
    assert "100000 bytes" in caught.value.message
    assert "64 KB (65536 bytes)" in caught.value.message


def test_size_cap_without_content_length(file_server, settings):
    file_server.routes["/stream"] = Route((b"y" * 10_000 for _ in range(20)), content_length=False)
    with pytest.raises(PayloadTooLarge, match="larger than the limit of 64 KB"):
        download(file_server.url("/stream"), settings)
    file_server.routes["/fits"] = Route((b"z" * 1000 for _ in range(3)), content_length=False)
    data, _ = fetch(file_server.url("/fits"), settings)
    assert data == b"z" * 3000


def test_read_timeout(file_server, settings):
    file_server.routes["/slow"] = Route(b"late", delay=1.5)
    quick = dataclasses.replace(settings, read_timeout=0.3)
    with pytest.raises(InvalidRequest) as caught:
        download(file_server.url("/slow"), quick)
    assert caught.value.code == "fetch_timeout"
    assert "sent nothing for 0.3 s" in caught.value.message


def test_total_timeout(file_server, settings):
    file_server.routes["/trickle"] = Route(
        (b"." for _ in range(50)), content_length=False, chunk_delay=0.1
    )
    short = dataclasses.replace(settings, total_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(InvalidRequest) as caught:
        download(file_server.url("/trickle"), short)
    assert time.monotonic() - started < 2
    assert caught.value.code == "fetch_timeout"
    assert "longer than 0.5 s" in caught.value.message


def test_connection_refused(settings):
    url = f"http://127.0.0.1:{free_port()}/a.pdf"
    with pytest.raises(InvalidRequest) as caught:
        download(url, settings)
    assert caught.value.message == f"could not fetch {url}: the server could not be reached"


def test_credentials_in_the_url_are_not_echoed(file_server, settings):
    url = file_server.url("/nope").replace("http://", "http://user:hunter2@")
    with pytest.raises(InvalidRequest) as caught:
        download(url, settings)
    assert "hunter2" not in caught.value.message
    assert "HTTP 404" in caught.value.message


def test_total_timeout_while_waiting_for_the_first_byte(file_server, settings):
    """Without gevent the read timeout is cut to the time left; that is the overall deadline."""
    file_server.routes["/late"] = Route(b"late", delay=1.5)
    short = dataclasses.replace(settings, total_timeout=0.4, read_timeout=10)
    with pytest.raises(InvalidRequest) as caught:
        download(file_server.url("/late"), short)
    assert "longer than 0.4 s" in caught.value.message
