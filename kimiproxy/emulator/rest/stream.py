"""``rest`` answer streams: reply steps become ``data: {json}`` Server-Sent Events."""

from __future__ import annotations

import json

from kimiproxy.emulator.faults import DELTAS_BEFORE_FAULT, MID_STREAM, OVERLOADED_MESSAGE
from kimiproxy.emulator.replies import BREAK, SEARCH, TEXT, THINK, Step, rechunk


def sse(event: dict) -> bytes:
    """One SSE event line with its blank-line terminator."""
    return (
        b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


def _fault_tail(fault: str) -> list[tuple[bytes, bool]]:
    if fault == "malformed_frame":
        return [(b"data: {not json\n\n", False)]
    if fault in ("error_event", "block_exception"):
        # rest has no block exceptions; its overload error event is the equivalent.
        error = {
            "error_type": "openai.completion.stream",
            "message": OVERLOADED_MESSAGE,
            "detail": "completion overloaded",
        }
        return [(sse({"event": "error", "error": error}), False)]
    return []  # cut_stream: the stream just stops


def answer_chunks(
    *,
    req: dict | None,
    resp: dict,
    steps: tuple[Step, ...],
    search: bool,
    hit_length: bool,
    title: str | None,
    fault: str | None,
    split_size: int | None,
) -> list[bytes]:
    """The network writes of one completion call.

    ``req`` is omitted on a continuation; ``hit_length`` ends the stream with ``length`` instead
    of ``done``; a mid-stream ``fault`` replaces the rest of the stream after a few deltas.
    """
    frames: list[tuple[bytes, bool]] = []
    if req is not None:
        frames.append((sse(req), False))
    frames.append((sse(resp), False))
    if req is not None:
        debug = {
            "need2search": search,
            "search_target": req["content"][:20] if search else "",
            "search_language": "en",
        }
        frames.append((sse({"event": "debug", "message": debug}), False))
    deltas = 0
    for step in steps:
        if step.kind == SEARCH:
            frames.append((sse({"event": "search_plus", "msg": {"type": "start"}}), False))
            frames += [
                (sse({"event": "search_plus", "msg": r.get_res()}), False) for r in step.results
            ]
            cards = [r.ref_card() for r in step.results]
            frames.append((sse({"event": "ref_docs", "ref_cards": cards}), False))
            continue
        if step.kind == BREAK:
            # "done" may come mid-answer; more cmpl follows (clients must not stop here).
            frames.append((sse({"event": "done"}), False))
            continue
        if step.kind == THINK:
            frames.append((sse({"event": "k1", "text": step.text}), False))
        elif step.kind == TEXT:
            event = {"event": "cmpl", "text": step.text, "idx_s": 0, "idx_z": 0, "view": "cmpl"}
            frames.append((sse(event), True))
        deltas += 1
        if fault in MID_STREAM and deltas == DELTAS_BEFORE_FAULT:
            return rechunk(frames + _fault_tail(fault), split_size)
    if fault in MID_STREAM:
        return rechunk(frames + _fault_tail(fault), split_size)
    if hit_length:
        frames.append((sse({"event": "length"}), False))
    else:
        if title is not None:
            frames.append((sse({"event": "rename", "text": title}), False))
        frames.append((sse({"event": "done"}), False))
    frames.append((sse({"event": "all_done"}), False))
    return rechunk(frames, split_size)
