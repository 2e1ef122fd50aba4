"""Fixtures for the emulator tests: a fresh app per test and a small client for both protocols."""

from __future__ import annotations

import json
import struct

import pytest

from kimiproxy.emulator import create_emulator_app

CHAT_RPC = "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"
REFRESH_RPC = "/api/account.gateway.v1.AuthService/RefreshToken"


def sse_events(chunks: list[bytes]) -> list:
    """The ``data:`` payloads of an SSE body, parsed as JSON where possible."""
    text = b"".join(chunks).decode("utf-8")
    events = []
    for block in text.split("\n\n"):
        if not block.startswith("data: "):
            continue
        data = block[len("data: ") :]
        try:
            events.append(json.loads(data))
        except ValueError:
            events.append(data)
    return events


def connect_envelope(payload: dict) -> bytes:
    data = json.dumps(payload).encode()
    return b"\x00" + struct.pack(">I", len(data)) + data


def connect_frames(data: bytes) -> list[tuple[int, dict]]:
    """``(flag, json)`` for every envelope; raises ``ValueError`` on a broken length field."""
    frames, offset = [], 0
    while offset < len(data):
        flag, length = struct.unpack(">BI", data[offset : offset + 5])
        if offset + 5 + length > len(data):
            raise ValueError("envelope runs past the body")
        frames.append((flag, json.loads(data[offset + 5 : offset + 5 + length])))
        offset += 5 + length
    return frames


def text_of(frames: list[tuple[int, dict]], kind: str = "text") -> str:
    """The concatenated ``append`` content of a ``connect`` block kind."""
    return "".join(
        f["block"][kind]["content"]
        for _, f in frames
        if f.get("op") == "append" and f.get("mask") == f"block.{kind}.content"
    )


def cmpl_text(events: list) -> str:
    return "".join(e["text"] for e in events if isinstance(e, dict) and e.get("event") == "cmpl")


def _drain(response) -> list[bytes]:
    """Each separate write of a streamed test response; the body stays readable afterwards."""
    chunks = list(response.response)
    response.close()
    response.set_data(b"".join(chunks))
    return chunks


class Emulator:
    """Thin helpers over the Flask test client."""

    sse_events = staticmethod(sse_events)
    connect_frames = staticmethod(connect_frames)
    connect_envelope = staticmethod(connect_envelope)
    text_of = staticmethod(text_of)
    cmpl_text = staticmethod(cmpl_text)

    def __init__(self, client) -> None:
        self.client = client

    # --- tokens --------------------------------------------------------------------------------
    def token(self, refresh: str = "alice-refresh") -> str:
        response = self.client.get(
            "/api/auth/token/refresh", headers={"Authorization": f"Bearer {refresh}"}
        )
        assert response.status_code == 200, response.data
        return response.json["access_token"]

    def rotate(self, refresh: str, client=None):
        """The rotating refresh: plain JSON, no Authorization header."""
        return (client or self.client).post(REFRESH_RPC, json={"refresh_token": refresh})

    def legacy_refresh(self, refresh: str, client=None):
        return (client or self.client).get(
            "/api/auth/token/refresh", headers={"Authorization": f"Bearer {refresh}"}
        )

    def refreshes(self) -> dict:
        return self.client.get("/_emulator/refreshes").json

    @staticmethod
    def auth(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    # --- rest ----------------------------------------------------------------------------------
    def create_chat(self, token: str) -> str:
        body = {
            "enter_method": "new_chat",
            "is_example": False,
            "kimiplus_id": "kimi",
            "name": "未命名会话",
        }
        response = self.client.post("/api/chat", json=body, headers=self.auth(token))
        assert response.status_code == 200, response.data
        return response.json["id"]

    def complete(self, token: str, chat_id: str, content: str | None = "hello", **body):
        """``(response, chunks)`` of a completion call; chunks is each separate write."""
        if content is not None:
            body.setdefault("messages", [{"role": "user", "content": content}])
        body.setdefault("kimiplus_id", "kimi")
        response = self.client.post(
            f"/api/chat/{chat_id}/completion/stream", json=body, headers=self.auth(token)
        )
        chunks = _drain(response)
        return response, chunks

    def upload_rest(self, token: str, name: str, data: bytes, mime: str, action: str = "file"):
        """Pre-sign and PUT; returns the pre-sign answer."""
        signed = self.client.post(
            "/api/pre-sign-url", json={"action": action, "name": name}, headers=self.auth(token)
        )
        assert signed.status_code == 200, signed.data
        path = signed.json["url"].split("://", 1)[1].split("/", 1)[1]
        put = self.client.put("/" + path, data=data, headers={"Content-Type": mime})
        return signed.json, put

    def file_object(self, token: str, signed: dict, name: str, action: str = "file"):
        if action == "image":
            body = {"type": "image", "file_id": signed["file_id"], "name": name}
        else:
            body = {
                "type": "file",
                "name": name,
                "object_name": signed["object_name"],
                "file_id": "",
            }
        return self.client.post("/api/file", json=body, headers=self.auth(token))

    def parse_process(self, token: str, file_id: str):
        response = self.client.post(
            "/api/file/parse_process",
            json={"ids": [file_id], "timeout": 120000},
            headers=self.auth(token),
        )
        chunks = _drain(response)
        return response, sse_events(chunks)

    # --- connect -------------------------------------------------------------------------------
    def chat_connect(
        self,
        token: str,
        text: str | None = "hello",
        *,
        blocks: list | None = None,
        raw: bytes | None = None,
        **fields,
    ):
        """``(response, chunks, frames)`` of a ``Chat`` call (frames ``None`` if undecodable)."""
        if blocks is None:
            blocks = [{"message_id": "", "text": {"content": text}}]
        message = {"role": "user", "blocks": blocks, "scenario": "SCENARIO_K2D5"}
        if "parent_id" in fields:
            message["parent_id"] = fields.pop("parent_id")
        payload = {"scenario": "SCENARIO_K2D5", "message": message, **fields}
        response = self.client.post(
            CHAT_RPC,
            data=raw if raw is not None else connect_envelope(payload),
            headers={
                **self.auth(token),
                "Content-Type": "application/connect+json",
                "Connect-Protocol-Version": "1",
            },
        )
        chunks = _drain(response)
        try:
            frames = connect_frames(b"".join(chunks))
        except ValueError:
            frames = None
        return response, chunks, frames

    def unary(self, token: str | None, method: str, body: dict | None = None):
        headers = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
        if token:
            headers.update(self.auth(token))
        return self.client.post(f"/apiv2/{method}", json=body or {}, headers=headers)

    def upload_connect(self, token: str, name: str, data: bytes, mime: str = "text/plain"):
        import io

        return self.client.post(
            "/apiv2-files/file/upload",
            data={"file": (io.BytesIO(data), name, mime)},
            headers=self.auth(token),
            content_type="multipart/form-data",
        )

    # --- control ---------------------------------------------------------------------------------
    def fault(self, name: str, times: int = 1) -> None:
        response = self.client.post("/_emulator/faults", json={"fault": name, "times": times})
        assert response.status_code == 200, response.data

    def chats(self) -> list[dict]:
        return self.client.get("/_emulator/chats").json["chats"]


@pytest.fixture
def options() -> dict:
    return {"parse_hang_seconds": 0.2}


@pytest.fixture
def app(options):
    return create_emulator_app(options)


@pytest.fixture
def emu(app) -> Emulator:
    return Emulator(app.test_client())
