"""Everything the emulator remembers: calls, chats and turns, files, queued faults, quotas,
refresh tokens, and the options in force.

All of it lives in one process, behind locks; run the emulator with a single worker.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time

from flask import current_app

from kimiproxy.emulator.faults import fault_kind
from kimiproxy.emulator.options import merge_options
from kimiproxy.emulator.records import Chat, StoredFile, Turn
from kimiproxy.emulator.replies import Step, answer_text
from kimiproxy.emulator.rotation import RefreshLedger
from kimiproxy.emulator.token_book import TokenBook

EXTENSION_KEY = "kimi_emulator"
READY_STATUSES = frozenset({"initialized", "parsed"})


class EmulatorState:
    def __init__(self, options: dict | None = None) -> None:
        self._start_options = merge_options(options)
        self._lock = threading.Lock()
        self._stream_numbers = itertools.count(1)
        self.token_book = TokenBook()  # not cleared by reset(): see token_book.py
        self.reset()

    def reset(self) -> None:
        """Forget everything, and go back to the options the emulator started with."""
        with self._lock:
            self.options = dict(self._start_options)
            # Refresh tokens rotated out before a reset are unknown (and so accepted) again.
            self.refreshes = RefreshLedger()
            self._calls: list[dict] = []
            self._chats: dict[str, Chat] = {}
            self._files: dict[str, StoredFile] = {}
            self._faults: list[list] = []
            self._research_used: dict[str, int] = {}
            # Open completion streams: stream id -> (account, chat id).
            self._streams: dict[str, tuple[str, str]] = {}
            # Every stream claim, granted or refused by the one-stream rule, oldest first.
            self._stream_history: list[dict] = []

    def set_options(self, changes: dict) -> dict:
        """Change some options while running (``ValueError`` naming a bad one, changing none);
        the options now in force."""
        with self._lock:
            self.options = merge_options(changes, self.options)
            return dict(self.options)

    # --- calls -------------------------------------------------------------------------------
    def record_call(self, call: dict) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._calls)

    # --- faults ------------------------------------------------------------------------------
    def queue_fault(self, name: str, times: int = 1) -> None:
        if fault_kind(name) is None:
            raise ValueError(f"unknown fault {name!r}")
        with self._lock:
            self._faults.append([name, times])

    def take_fault(self, kind: str) -> str | None:
        """Consume one use of the oldest queued fault of ``kind`` (``chat``, ``file`` or
        ``refresh``)."""
        with self._lock:
            for entry in self._faults:
                if fault_kind(entry[0]) == kind:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._faults.remove(entry)
                    return entry[0]
        return None

    def queued_faults(self) -> list[dict]:
        with self._lock:
            return [{"fault": name, "times": times} for name, times in self._faults]

    # --- chats -------------------------------------------------------------------------------
    def create_chat(self, chat_id: str, protocol: str, account: str, name: str) -> Chat:
        chat = Chat(id=chat_id, protocol=protocol, account=account, name=name)
        with self._lock:
            self._chats[chat_id] = chat
        return chat

    def find_chat(self, chat_id: str) -> Chat | None:
        with self._lock:
            return self._chats.get(chat_id)

    def delete_chat(self, chat_id: str) -> None:
        """Mark the chat deleted; a stream still open on it no longer holds its account."""
        with self._lock:
            self._chats[chat_id].deleted = True
            for stream_id, (_, stream_chat) in list(self._streams.items()):
                if stream_chat == chat_id:
                    del self._streams[stream_id]
                    self._stream_ended(stream_id)

    def rename_chat(self, chat_id: str, name: str) -> None:
        with self._lock:
            self._chats[chat_id].name = name

    def live_chats(self, account: str) -> list[dict]:
        """Summaries of the account's chats that are not deleted, newest first."""
        with self._lock:
            chats = [c for c in self._chats.values() if c.account == account and not c.deleted]
            return [c.summary() for c in reversed(chats)]

    def add_turn(self, chat_id: str, turn: Turn, messages: list[dict]) -> None:
        with self._lock:
            chat = self._chats[chat_id]
            chat.turns.append(turn)
            chat.messages.extend(messages)

    def message_ids(self, chat_id: str) -> set[str]:
        with self._lock:
            return {m["id"] for m in self._chats[chat_id].messages}

    def last_message_id(self, chat_id: str) -> str | None:
        with self._lock:
            messages = self._chats[chat_id].messages
            return messages[-1]["id"] if messages else None

    def messages(self, chat_id: str, limit: int) -> list[dict]:
        """The chat's messages, newest first."""
        with self._lock:
            return copy.deepcopy(list(reversed(self._chats[chat_id].messages))[:limit])

    def has_segment(self, chat_id: str, segment_id: str) -> bool:
        with self._lock:
            return any(t.user_message_id == segment_id for t in self._chats[chat_id].turns)

    def continue_turn(self, chat_id: str, segment_id: str) -> tuple[tuple[Step, ...], str]:
        """Take the steps left after a length cut and the assistant message id they extend;
        the turn's reply grows by their text."""
        with self._lock:
            chat = self._chats[chat_id]
            turn = next(t for t in chat.turns if t.user_message_id == segment_id)
            steps, turn.pending = turn.pending or (), None
            text = answer_text(steps)
            turn.reply += text
            turn.continued = True
            for message in chat.messages:
                if message["id"] == turn.assistant_message_id:
                    for block in message["blocks"]:
                        if "text" in block:
                            block["text"]["content"] += text
            return steps, turn.assistant_message_id

    def chats(self) -> list[dict]:
        with self._lock:
            return [chat.public() for chat in self._chats.values()]

    # --- files -------------------------------------------------------------------------------
    def add_file(self, stored: StoredFile) -> None:
        with self._lock:
            self._files[stored.id] = stored

    def find_file(
        self, account: str, file_id: str | None = None, object_name: str | None = None
    ) -> StoredFile | None:
        with self._lock:
            for stored in self._files.values():
                if stored.account != account:
                    continue
                if (file_id and stored.id == file_id) or (
                    object_name and stored.object_name == object_name
                ):
                    return copy.copy(stored)
        return None

    def file_by_object(self, object_name: str) -> StoredFile | None:
        with self._lock:
            for stored in self._files.values():
                if stored.object_name == object_name:
                    return copy.copy(stored)
        return None

    def update_file(self, file_id: str, **changes) -> StoredFile:
        with self._lock:
            stored = self._files[file_id]
            for key, value in changes.items():
                setattr(stored, key, value)
            return copy.copy(stored)

    def poll_file(self, file_id: str) -> StoredFile:
        """Count a status poll; after ``parse_polls`` polls the file is initialized."""
        with self._lock:
            stored = self._files[file_id]
            stored.polls += 1
            ready = stored.polls >= self.options["parse_polls"]
            if stored.status == "initializing" and ready and stored.fault != "parse_hang":
                stored.status = "initialized"
            return copy.copy(stored)

    def usable_file(self, account: str, file_id: str) -> StoredFile | None:
        """The account's file if its bytes arrived and it is initialized or parsed."""
        stored = self.find_file(account, file_id=file_id)
        if stored is None or not stored.uploaded or stored.status not in READY_STATUSES:
            return None
        return stored

    def files(self) -> list[dict]:
        with self._lock:
            return [f.public() for f in self._files.values() if f.uploaded]

    # --- research quota and concurrent streams -----------------------------------------------
    def research_usage(self, account: str) -> dict:
        total = int(self.options["research_total"])
        with self._lock:
            used = self._research_used.get(account, 0)
        return {"remain": max(0, total - used), "total": total, "used": used}

    def use_research(self, account: str) -> None:
        with self._lock:
            self._research_used[account] = self._research_used.get(account, 0) + 1

    def begin_stream(self, account: str, chat_id: str) -> str | None:
        """Claim a stream slot for the account (on ``chat_id``): its id, or ``None`` when Kimi's
        one-stream-per-account rule refuses it because another stream of the account is open."""
        with self._lock:
            busy = any(owner == account for owner, _ in self._streams.values())
            entry = {"id": None, "account": account, "chat_id": chat_id, "refused": False}
            entry |= {"started_at": time.time(), "ended_at": None}
            self._stream_history.append(entry)
            if busy and self.options["one_stream_per_account"]:
                entry.update(refused=True, ended_at=entry["started_at"])
                return None
            stream_id = f"stream-{next(self._stream_numbers)}"
            entry["id"] = stream_id
            self._streams[stream_id] = (account, chat_id)
            return stream_id

    def end_stream(self, stream_id: str) -> None:
        """Release a slot; harmless if it was already released (or forgotten by a reset)."""
        with self._lock:
            if self._streams.pop(stream_id, None) is not None:
                self._stream_ended(stream_id)

    def _stream_ended(self, stream_id: str) -> None:
        for entry in reversed(self._stream_history):
            if entry["id"] == stream_id:
                entry["ended_at"] = time.time()
                return

    def streams(self) -> list[dict]:
        with self._lock:
            return [
                {"id": stream_id, "account": account, "chat_id": chat_id}
                for stream_id, (account, chat_id) in self._streams.items()
            ]

    def stream_history(self) -> list[dict]:
        """Every stream claim since the last reset, oldest first: granted ones with their
        ``id`` and the times they began and released their account (``ended_at`` ``None`` while
        open), refused ones (``refused`` true, ``id`` ``None``)."""
        with self._lock:
            return copy.deepcopy(self._stream_history)


def get_state() -> EmulatorState:
    """The state of the emulator app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
