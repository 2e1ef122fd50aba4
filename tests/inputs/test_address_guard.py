"""The address guard: which addresses are public, the allow list, resolution checks, and the
connection pinned to the checked address."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess

import pytest
import requests

from kimiproxy.allow_list import AllowList, parse_allow_list
from kimiproxy.inputs.address_guard import (
    DestinationRefused,
    ResolutionFailed,
    checked_addresses,
    is_public_address,
    pinned_session,
)

from .samples import FileServer, Route


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses(address):
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "fec0::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",  # IPv4-mapped
        "::7f00:1",  # IPv4-compatible (deprecated)
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",  # NAT64
        "2002:7f00:1::1",
        "2002:a00:1::1",  # 6to4 of 127.0.0.1 / 10.0.0.1
    ],
)
def test_non_public_addresses(address):
    assert not is_public_address(ipaddress.ip_address(address))


def test_allow_list_parsing():
    allow = parse_allow_list(" 127.0.0.1, 10.0.0.0/8,files.internal ,*.corp.example, [::1],,")
    assert allow.hosts == frozenset({"files.internal"})
    assert allow.suffixes == (".corp.example",)
    assert ipaddress.ip_network("127.0.0.1/32") in allow.networks
    assert ipaddress.ip_network("::1/128") in allow.networks
    assert allow.allows_address(ipaddress.ip_address("10.200.3.4"))
    assert allow.allows_address(ipaddress.ip_address("::ffff:127.0.0.1"))  # mapped form
    assert not allow.allows_address(ipaddress.ip_address("127.0.0.2"))
    assert allow.allows_host("FILES.internal.")
    assert allow.allows_host("a.b.corp.example")
    assert not allow.allows_host("corp.example")
    assert not allow.allows_host("files.internal.evil.com")
    assert parse_allow_list("") == AllowList()


@pytest.mark.parametrize("entry", ["not a host", "host:8080", "http://x", "10.0.0.0/33", "a/b"])
def test_allow_list_rejects_bad_entries(entry):
    with pytest.raises(ValueError, match="KIMIPROXY_FETCH_ALLOW"):
        parse_allow_list(entry)


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns[name] = [addresses]``; other names fail to resolve."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            results = []
            for address in table[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                results.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return results
        try:
            ipaddress.ip_address(str(host).split("%")[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_host_resolving_to_any_private_address_is_refused(fake_dns):
    fake_dns["mixed.example"] = ["93.184.216.34", "10.0.0.5"]
    with pytest.raises(DestinationRefused) as refused:
        checked_addresses("mixed.example", 80, parse_allow_list(""))
    assert "not public" in str(refused.value)
    assert "10.0.0.5" not in str(refused.value)  # the client is not told internal addresses


def test_public_host_passes(fake_dns):
    fake_dns["public.example"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert checked_addresses("public.example", 443, parse_allow_list("")) == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]


def test_literal_loopback_is_refused_and_named():
    with pytest.raises(DestinationRefused, match="127.0.0.1 is a loopback address"):
        checked_addresses("127.0.0.1", 80, parse_allow_list(""))
    with pytest.raises(DestinationRefused, match="loopback"):
        checked_addresses("[::1]", 80, parse_allow_list(""))
    with pytest.raises(DestinationRefused, match="link-local"):
        checked_addresses("169.254.169.254", 80, parse_allow_list(""))


def test_allow_list_by_network_and_by_host(fake_dns):
    fake_dns["files.internal"] = ["10.1.2.3"]
    fake_dns["other.internal"] = ["10.9.9.9"]
    assert checked_addresses("127.0.0.1", 80, parse_allow_list("127.0.0.1")) == ["127.0.0.1"]
    assert checked_addresses("files.internal", 80, parse_allow_list("files.internal")) == [
        "10.1.2.3"
    ]
    assert checked_addresses("other.internal", 80, parse_allow_list("10.0.0.0/8")) == ["10.9.9.9"]
    with pytest.raises(DestinationRefused):
        checked_addresses("other.internal", 80, parse_allow_list("files.internal, 10.1.0.0/16"))


def test_resolution_failure(fake_dns):
    with pytest.raises(ResolutionFailed, match="could not be resolved"):
        checked_addresses("nowhere.invalid", 80, parse_allow_list(""))


def test_pinned_session_connects_to_the_checked_address_with_the_real_host_name(
    file_server, fake_dns
):
    """The URL names a host the system cannot resolve; the pinned session still reaches the
    checked address and sends the URL's host in the Host header: no second resolution."""
    file_server.routes["/doc"] = Route(b"pinned")
    url = file_server.url("/doc", host="unresolvable.test")
    with pinned_session("127.0.0.1") as session:
        response = session.get(url, timeout=5)
    assert response.content == b"pinned"
    assert file_server.host_headers == [f"unresolvable.test:{file_server.port}"]


def test_pinned_session_ignores_environment_proxies(file_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:9")
    monkeypatch.setenv("http_proxy", "http://10.255.255.1:9")
    file_server.routes["/doc"] = Route(b"direct")
    with pinned_session("127.0.0.1") as session:
        assert session.get(file_server.url("/doc"), timeout=5).content == b"direct"


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS file server on 127.0.0.1 whose self-signed certificate names ``files.test``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=files.test",
            "-addext",
            "subjectAltName=DNS:files.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = FileServer(ssl_context=context).start()
    server.routes["/doc"] = Route(b"over tls")
    try:
        yield server, str(cert)
    finally:
        server.stop()


def test_pinned_https_keeps_sni_and_certificate_checks_for_the_host_name(tls_server):
    server, cert = tls_server
    with pinned_session("127.0.0.1") as session:
        response = session.get(server.url("/doc", host="files.test"), verify=cert, timeout=5)
        assert response.content == b"over tls"
        # The same pinned address under a name the certificate does not carry is refused.
        with pytest.raises(requests.exceptions.SSLError):
            session.get(server.url("/doc", host="other.test"), verify=cert, timeout=5)
        with pytest.raises(requests.exceptions.SSLError):
            session.get(server.url("/doc"), verify=cert, timeout=5)
