"""The suite against kimiproxy itself: real gunicorn with gevent workers, in front of the emulator,
for both protocols (``connect`` and ``rest``), through both SDKs."""

from __future__ import annotations

import pytest
from kimiproxy_conformance.results import format_table
from kimiproxy_conformance.suite import run_conformance


@pytest.mark.parametrize("protocol", ["connect", "rest"])
def test_kimiproxy_passes_the_whole_suite(protocol, proxy_factory, node_ready):
    proxy = proxy_factory(protocol)
    # A refresh token of its own per proxy: Kimi rotates it on the first refresh, and the other
    # proxy would then hold a dead copy.
    report = run_conformance(
        proxy.base_url, emulator=True, api_key=f"conformance-{protocol}-refresh-token"
    )
    assert report.ok(), format_table(report, only_problems=True)
    if node_ready:
        assert report.count("skipped") == 0, format_table(report, only_problems=True)
