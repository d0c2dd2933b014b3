"""The encodings of a tracker request, decoded exactly as Scala Common Enrich's JVM libraries do.

Snowplow's bad rows, and which lines are bad at all, follow from the quirks of
``java.net.URI`` + Apache httpclient 4.3.3 ``URLEncodedUtils`` (querystrings),
``java.net.URLDecoder`` (content type, user agent, access-log fields) and commons-codec
``Base64(true)`` (request bodies, ``cx``, ``ue_px``). Python's ``urllib`` and ``base64`` are
more lenient or stricter in other places, so each rule is reproduced here, with the Java error
messages, because users grep their bad rows for them.
"""

from __future__ import annotations

import base64
import re
from codecs import escape_decode
from typing import NoReturn
from urllib.parse import unquote_to_bytes

from snowplow_dagster.enrich.payload import ProcessingError, abbreviate

_URI_PREFIX = "http://localhost/?"

# java.net.URI's L_URIC for a query or fragment: RFC 2396 reserved + unreserved ASCII, "%XX"
# escapes, and any char above U+0080 that is neither a space char (Zs/Zl/Zp as of Java 8's
# Unicode 6.2, which still counts U+180E) nor an ISO control. Possessive quantifiers: the end of
# the match is the index of the first bad character, found without backtracking.
_URIC_RUN = re.compile(
    r"(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,\[\]"
    "\u00a1-\u167f\u1681-\u180d\u180f-\u1fff\u200b-\u2027\u202a-\u202e"
    "\u2030-\u205e\u2060-\u2fff\u3001-\U0010ffff"
    r"]++|%[0-9A-Fa-f]{2})*+"
)
_URIC_ASCII = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'();/?:@&=+$,[]%"
)
"""The ASCII characters ``_URIC_RUN`` accepts (``%`` only before two hex digits)."""
_DOUBLE_ENCODED_PCT = re.compile("%25([0-9a-fA-F][0-9a-fA-F])")
_LONE_PCT25 = re.compile("%25(?![0-9a-fA-F]{2})")
_MALFORMED_PCT = re.compile("%(?![0-9A-Fa-f]{2})")
_CR_LF = re.compile("[\r\n]")
_BASE64_IGNORED = re.compile(r"[^A-Za-z0-9+/\-_]")
_URL_SAFE = bytes.maketrans(b"-_", b"+/")
_BASE64_LINE = 76


def single_encode_pcts(text: str) -> str:
    """Turn CloudFront's double-encoded ``%25XX`` back into ``%XX`` (one pass, not recursive).

    Since 14 Sep 2013 CloudFront double-encodes every ``%`` in its logs; ``%2588`` is ambiguous
    and, as in Snowplow, treated as double-encoded.
    """
    if "%25" not in text:
        return text
    if _LONE_PCT25.search(text) is None:  # every "%25" starts "%25XX": a plain replace will do
        return text.replace("%25", "%")
    return _DOUBLE_ENCODED_PCT.sub(_single_pct, text)


def _single_pct(match: re.Match[str]) -> str:
    return "%" + match[1]


def parse_querystring(qs: str | None, encoding: str = "UTF-8") -> dict[str, str | None]:
    """Name/value pairs of a raw querystring, as ``URLEncodedUtils.parse(URI.create(...))``.

    ``java.net.URI`` must accept ``http://localhost/?<qs>`` first: a raw illegal character or a
    malformed ``%`` escape makes the whole line a bad row, and a raw ``#`` ends the query. Pairs
    are split on ``&`` and ``;``, the last duplicate wins, a name without ``=`` maps to None.
    """
    if not qs:
        return {}
    query = _check_uri(qs, encoding)
    if not query:
        return {}
    tokens = query.replace(";", "&").split("&") if ";" in query else query.split("&")
    # java.util.Scanner skips one delimiter before each token, so a leading and a trailing
    # separator yield no token, while "a&&b" yields an empty one between.
    if query[0] in "&;":
        del tokens[0]
    if query[-1] in "&;" and tokens:
        del tokens[-1]
    params: dict[str, str | None] = {}
    if not query.isascii():  # raw non-ASCII text must go through the decoder too
        for token in tokens:
            name, sep, value = token.partition("=")
            name = _decode_form_field_wide(name, encoding)
            params[name] = _decode_form_field_wide(value, encoding) if sep else None
        return params
    decode = _decode_form_field
    for token in tokens:
        name, sep, value = token.partition("=")
        if "%" in token or "+" in token:  # one scan rules out decoding for most tokens
            if "%" in name or "+" in name:
                name = decode(name, encoding)
            if sep and ("%" in value or "+" in value):
                value = decode(value, encoding)
        params[name] = value if sep else None
    return params


def decode_string(field: str, text: str | None, encoding: str = "UTF-8") -> str:
    """``ConversionUtils.decodeString``: ``URLDecoder.decode``, CR/LF dropped, tab as 4 spaces.

    Raises the ``Field [..]: Exception URL-decoding [..]`` bad-row message on a malformed escape.
    """
    text = text or ""
    try:
        decoded = url_decode(text, encoding)
    except ValueError as e:
        raise ProcessingError(
            f"Field [{field}]: Exception URL-decoding [{text}] (encoding [{encoding}]): [{e}]"
        ) from None
    if "\r" in decoded or "\n" in decoded:
        decoded = _CR_LF.sub("", decoded)
    return decoded.replace("\t", "    ")


def url_decode(text: str, encoding: str = "UTF-8") -> str:
    """``java.net.URLDecoder.decode``: ``+`` is a space, ``%XX`` runs are bytes in ``encoding``.

    Unlike ``urllib.parse.unquote_plus`` it fails on a malformed escape; the ValueError carries
    the JDK 8 message.
    """
    if "%" not in text:
        return text.replace("+", " ") if "+" in text else text
    if not _MALFORMED_PCT.search(text):
        return unquote_to_bytes(text.replace("+", " ")).decode(encoding, "replace")
    return _url_decode_strict(text, encoding)


def decode_base64url(text: str) -> str:
    """commons-codec ``Base64(true).decode`` then UTF-8: both alphabets, padding optional.

    Characters outside the alphabets are skipped, the first ``=`` ends the data and a dangling
    sixth bit group is dropped, so this never fails, as in Snowplow.
    """
    data = _BASE64_IGNORED.sub("", text.partition("=")[0])
    usable = len(data) - len(data) % 4 if len(data) % 4 == 1 else len(data)
    raw = data[:usable].encode("ascii").translate(_URL_SAFE)
    return base64.b64decode(raw + b"=" * (-usable % 4)).decode("utf-8", "replace")


def encode_base64url(text: str) -> str:
    """commons-codec ``Base64(true).encode``: URL-safe, unpadded, CRLF after every 76 chars.

    The chunking is a quirk of that constructor; it is kept because the encoded value is hashed
    by the event fingerprint enrichment.
    """
    encoded = base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")
    return "".join(
        encoded[i : i + _BASE64_LINE] + "\r\n" for i in range(0, len(encoded), _BASE64_LINE)
    )


def _check_uri(qs: str, encoding: str) -> str:
    """The raw query of ``http://localhost/?<qs>``, or the bad row ``java.net.URI`` would cause."""
    # Fast path for the usual ASCII query: deleting every legal byte in C leaves nothing.
    if (
        qs.isascii()
        and not qs.encode("ascii").translate(None, _URIC_ASCII)
        and ("%" not in qs or _MALFORMED_PCT.search(qs) is None)
    ):
        return qs
    end = _URIC_RUN.match(qs).end()
    if end < len(qs) and qs[end] == "#":
        fragment_end = _URIC_RUN.match(qs, end + 1).end()
        if fragment_end < len(qs):
            _fail_uri(qs, fragment_end, "fragment", encoding)
        return qs[:end]
    if end < len(qs):
        _fail_uri(qs, end, "query", encoding)
    return qs


def _fail_uri(qs: str, position: int, component: str, encoding: str) -> NoReturn:
    reason = "Malformed escape pair" if qs[position] == "%" else f"Illegal character in {component}"
    # URISyntaxException indexes UTF-16 code units, so count astral characters twice.
    index = len(_URI_PREFIX) + position + sum(1 for c in qs[:position] if c > "\uffff")
    shown = abbreviate(qs)
    message = f"{reason} at index {index}: {_URI_PREFIX}{shown}"
    raise ProcessingError(
        f"Exception extracting name-value pairs from querystring [{shown}] "
        f"with encoding [{encoding}]: [{message}]"
    )


def _decode_form_field(text: str, encoding: str) -> str:
    """``URLEncodedUtils.urlDecode`` of ASCII text that passed ``java.net.URI``'s check.

    Every ``%`` starts a hex pair and there is no backslash and nothing to trim, so ``%XX`` can
    become ``\\xXX`` for the C-level ``escape_decode``: this runs for most parameters of every line.
    """
    escaped = text.replace("+", " ").replace("%", "\\x").encode("ascii")
    return escape_decode(escaped)[0].decode(encoding, "replace")


def _decode_form_field_wide(text: str, encoding: str) -> str:
    """``URLEncodedUtils.urlDecode`` for text with non-ASCII chars: each UTF-16 unit that is not
    part of an escape is cast to a byte, so raw non-ASCII text decodes to replacement chars."""
    if text.isascii():
        return _decode_form_field(text, encoding)
    units = text.encode("utf-16-le")
    out = bytearray()
    i, n = 0, len(units)
    while i < n:
        unit = units[i] | units[i + 1] << 8
        if unit == 0x25 and i + 4 < n:  # "%" and two more units
            out.append(int(chr(units[i + 2]) + chr(units[i + 4]), 16))
            i += 6
            continue
        out.append(0x20 if unit == 0x2B else unit & 0xFF)
        i += 2
    return out.decode(encoding, "replace")


def _url_decode_strict(text: str, encoding: str) -> str:
    """The JDK 8 ``URLDecoder.decode`` loop, for text with at least one unusual escape."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "+":
            out.append(" ")
            i += 1
        elif c == "%":
            run = bytearray()
            while i + 2 < n and text[i] == "%":
                run.append(_java_parse_hex(text[i + 1 : i + 3]))
                i += 3
            if i < n and text[i] == "%":
                raise ValueError("URLDecoder: Incomplete trailing escape (%) pattern")
            out.append(run.decode(encoding, "replace"))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _java_parse_hex(pair: str) -> int:
    """``Integer.parseInt(pair, 16)`` as URLDecoder uses it, including its sign handling."""
    digits = pair[1:] if pair[0] in "+-" else pair
    if not digits or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(
            f'URLDecoder: Illegal hex characters in escape (%) pattern - For input string: "{pair}"'
        )
    value = int(pair, 16)
    if value < 0:
        raise ValueError(
            "URLDecoder: Illegal hex characters in escape (%) pattern - negative value"
        )
    return value
