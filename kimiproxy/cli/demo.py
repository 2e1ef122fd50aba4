"""``kimiproxy demo``: the emulator and the proxy wired together, with a first answer shown."""

from __future__ import annotations

import signal
import sys
import time

from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop

DEMO_TOKEN = "demo-refresh-token"


def _examples(base: str) -> str:
    return f"""
kimiproxy is running at {base}/v1 in front of the bundled Kimi emulator.

curl:
  curl -s {base}/v1/chat/completions \\
    -H 'Authorization: Bearer {DEMO_TOKEN}' -H 'Content-Type: application/json' \\
    -d '{{"model": "kimi", "messages": [{{"role": "user", "content": "Hello Kimi"}}]}}'

Python:
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{DEMO_TOKEN}")
  stream = client.chat.completions.create(
      model="kimi-search", stream=True, messages=[{{"role": "user", "content": "Hello Kimi"}}])
  for chunk in stream:
      if chunk.choices and chunk.choices[0].delta.content:
          print(chunk.choices[0].delta.content, end="")
"""


def _first_answer(base: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}/v1", api_key=DEMO_TOKEN)
    print("A first streamed answer (model kimi-search):")
    stream = client.chat.completions.create(
        model="kimi-search",
        stream=True,
        messages=[{"role": "user", "content": "Hello Kimi, what can you do?"}],
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print("\n")


def run_demo(port: int, protocol: str, once: bool) -> int:
    # Stop both servers on a plain ``kill`` too, not only on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator_port = free_port()
    print(f"Starting the Kimi emulator on 127.0.0.1:{emulator_port} ...", flush=True)
    emulator = start_emulator(emulator_port)
    proxy = None
    try:
        print(f"Starting kimiproxy ({protocol} protocol) on 127.0.0.1:{port} ...", flush=True)
        proxy = start_proxy(
            port,
            {
                "KIMIPROXY_UPSTREAM": f"http://127.0.0.1:{emulator_port}",
                "KIMIPROXY_PROTOCOL": protocol,
            },
        )
        base = f"http://127.0.0.1:{port}"
        _first_answer(base)
        print(_examples(base))
        if once:
            return 0
        print("Press Ctrl-C to stop.", flush=True)
        while proxy.poll() is None and emulator.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if proxy is not None:
            stop(proxy)
        stop(emulator)
