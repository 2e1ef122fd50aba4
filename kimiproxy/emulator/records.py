"""What is stored about chats, their turns and uploaded files, and how each is shown."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kimiproxy.emulator.ids import now_iso
from kimiproxy.emulator.replies import Step


@dataclass
class Turn:
    """One user turn and the reply it got (the reply grows if it is continued)."""

    protocol: str
    prompt: str
    reply: str
    options: dict
    files: list[str]
    fault: str | None
    user_message_id: str
    assistant_message_id: str
    continued: bool = False
    pending: tuple[Step, ...] | None = None

    def public(self) -> dict:
        data = asdict(self)
        data.pop("pending")
        return data


@dataclass
class Chat:
    id: str
    protocol: str
    account: str
    name: str
    created: str = field(default_factory=now_iso)
    deleted: bool = False
    turns: list[Turn] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "createTime": self.created,
            "updateTime": self.created,
        }

    def public(self) -> dict:
        return {
            "id": self.id,
            "protocol": self.protocol,
            "account": self.account,
            "name": self.name,
            "deleted": self.deleted,
            "turns": [turn.public() for turn in self.turns],
        }


@dataclass
class StoredFile:
    """An upload: metadata and hash only, never the bytes."""

    id: str
    account: str
    protocol: str
    kind: str
    name: str
    fault: str | None = None
    object_name: str | None = None
    mime: str = ""
    size: int = 0
    sha256: str = ""
    status: str = "uploading"
    uploaded: bool = False
    polls: int = 0
    created: str = field(default_factory=now_iso)

    def public(self) -> dict:
        return {
            "id": self.id,
            "account": self.account,
            "protocol": self.protocol,
            "kind": self.kind,
            "name": self.name,
            "mime": self.mime,
            "size": self.size,
            "sha256": self.sha256,
            "status": self.status,
        }
