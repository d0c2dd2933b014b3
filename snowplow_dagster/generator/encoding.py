"""The JavaScript tracker's encodings: ``encodeURIComponent``, compact JSON, base64url."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from urllib.parse import quote

_URI_COMPONENT_SAFE = "-_.!~*'()"
_ASCII_URI_COMPONENT = {
    code: f"%{code:02X}"
    for code in range(128)
    if not (chr(code).isalnum() or chr(code) in _URI_COMPONENT_SAFE)
}


@lru_cache(maxsize=8192)
def _encode_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent`` (a table for ASCII text: contexts are long)."""
    if value.isascii():
        return value.translate(_ASCII_URI_COMPONENT)
    return quote(value, safe=_URI_COMPONENT_SAFE)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _base64url(text: str) -> str:
    """The JavaScript tracker's ``base64urlencode``: URL-safe alphabet, padding removed."""
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")
