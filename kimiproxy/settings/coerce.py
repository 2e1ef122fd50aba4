"""Turning a raw value (an environment string, or an override of any type) into a setting's
typed value, or a :class:`~kimiproxy.settings.model.SettingsError` naming the variable."""

from __future__ import annotations

import re

from kimiproxy.allow_list import AllowList, parse_allow_list
from kimiproxy.settings.model import ENV_PREFIX, FIELDS, TOKEN_SHAPE, SettingsError


def coerce(name: str, value: object) -> object:
    spec = FIELDS[name]
    meta, kind = spec.metadata, spec.metadata["kind"]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(name, f"must be true or false, not {_short(value)}")
    if kind in ("int", "float"):
        number = _number(name, value, int if kind == "int" else float)
        if "minimum" in meta and number < meta["minimum"]:
            raise SettingsError(name, f"must be at least {meta['minimum']}, not {number}")
        if "maximum" in meta and number > meta["maximum"]:
            raise SettingsError(name, f"must be at most {meta['maximum']}, not {number}")
        return number
    if kind in ("list", "tokens"):
        items = _items(name, value)
        if kind == "tokens" and not all(TOKEN_SHAPE.match(item) for item in items):
            raise SettingsError(name, "each entry must be printable ASCII without spaces")
        return items
    if kind == "allow":
        if isinstance(value, AllowList):
            return value
        try:
            return parse_allow_list(_text(name, value))
        except ValueError as exc:
            raise SettingsError(name, str(exc).removeprefix(ENV_PREFIX + "FETCH_ALLOW: ")) from None
    text = _text(name, value).strip()
    if kind == "state" and text and not re.match(r"^(sqlite:///.+|sqlite://|rediss?://.+)$", text):
        raise SettingsError(name, "must be sqlite:///path/state.db or redis://host:port/db")
    if (
        kind == "bind"
        and text
        and not re.match(r"^(unix:/.+|\[[0-9a-fA-F:]+\]:\d{1,5}|[^\s:\[\]]+:\d{1,5})$", text)
    ):
        raise SettingsError(name, f"must be host:port or unix:/path, not {_short(value)}")
    if kind == "choice":
        chosen = text.upper() if meta.get("upper") else text.lower()
        if chosen not in meta["choices"]:
            raise SettingsError(
                name, f"must be one of {', '.join(meta['choices'])}, not {_short(value)}"
            )
        return chosen
    if kind == "url" and text and not re.match(r"^https?://[^\s/]+", text):
        raise SettingsError(name, f"must be an http(s) URL, not {_short(value)}")
    return text


def _number(name: str, value: object, kind: type) -> int | float:
    if isinstance(value, bool):
        raise SettingsError(name, f"must be a number, not {value}")
    if isinstance(value, (int, float)) and (kind is float or isinstance(value, int)):
        number = kind(value)
    else:
        try:
            number = kind(str(value).strip())
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise SettingsError(name, f"must be {what}, not {_short(value)}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise SettingsError(name, f"must be a finite number, not {_short(value)}")
    return number


def _items(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        parts = [_text(name, v) for v in value]
    else:
        parts = _text(name, value).split(",")
    return tuple(part.strip() for part in parts if part.strip())


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise SettingsError(name, f"must be text, not {type(value).__name__}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"
