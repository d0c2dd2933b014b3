"""Page and referer URLs parsed as Snowplow's ``stringToUri`` does, with ``java.net.URI``.

``java.net.URI``'s rules (RFC 2396 plus its deviations) decide which page URLs and referers are
bad rows and what lands in the ``*_url*`` columns: Python's ``urllib`` accepts characters Java
rejects, and Java keeps a host it cannot parse as a server in a registry-based authority
(``getHost()`` is null) instead of failing. What Java refuses is re-encoded leniently and parsed
again, as scala-uri did for Snowplow.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple
from urllib.parse import quote, unquote

from snowplow_dagster.enrich.payload import abbreviate


class UriSyntaxError(ValueError):
    """A URI neither ``java.net.URI`` nor the lenient fallback accepts; the message is
    Snowplow's bad-row text."""


class JavaUri(NamedTuple):
    text: str
    """``URI.toString()``: the parsed string itself."""
    scheme: str | None
    host: str | None
    """None for a registry-based authority (e.g. a host with ``_``) and for opaque URIs."""
    port: int
    """-1 when absent."""
    raw_path: str | None
    raw_query: str | None
    raw_fragment: str | None


class _JavaSyntaxError(Exception):
    """``URISyntaxException``; ``str()`` is its ``getMessage()``."""

    def __init__(self, reason: str, index: int, text: str) -> None:
        super().__init__(f"{reason} at index {index}: {abbreviate(text)}")


@functools.lru_cache(maxsize=20_000)  # a visitor's events share their page and referer
def string_to_uri(text: str) -> JavaUri:
    """Snowplow's ``stringToUri``: spaces become ``%20`` and ``java.net.URI`` parses; if that
    fails the URI is re-encoded leniently (as scala-uri does) and parsed again."""
    candidate = text.replace(" ", "%20") if " " in text else text
    try:
        uri = parse_java_uri(candidate)
    except _JavaSyntaxError as java_error:
        try:
            uri = parse_java_uri(_reencode(text))
        except _JavaSyntaxError as lenient_error:
            raise UriSyntaxError(
                f"Provided URI [{abbreviate(text)}] could not be parsed, neither by Java parsing "
                f"(error: [{java_error}]) nor by Scala parsing (error: [{lenient_error}])."
            ) from None
    return uri


# Character classes of RFC 2396 as java.net.URI implements them. "Other" characters (non-ASCII,
# not a space or control character) are accepted wherever escapes are.
_ALPHANUM = "A-Za-z0-9"
_MARK = r"\-_.!~*'()"
_OTHER = (  # as of Java 8's Unicode 6.2, which still counts U+180E as a space
    "\u00a1-\u167f\u1681-\u180d\u180f-\u1fff\u200b-\u2027\u202a-\u202e"
    "\u2030-\u205e\u2060-\u2fff\u3001-\U0010ffff"
)


def _problems(allowed: str) -> re.Pattern[str]:
    """Finds the first character not allowed, or the first ``%`` not followed by two hex digits."""
    return re.compile(f"[^{_ALPHANUM}{_MARK}{allowed}%{_OTHER}]|%(?![0-9A-Fa-f]{{2}})")


_PATH_PROBLEM = _problems(r":@&=+$,;/")
_URIC_PROBLEM = _problems(r";/?:@&=+$,\[\]")
_USERINFO_PROBLEM = _problems(r";:&=+$,")
_REG_NAME_PROBLEM = _problems(r"$,;:@&=+")
_SERVER_PROBLEM = _problems(r";:&=+$,.@\[\]")
_SERVER_CHARS_PROBLEM = re.compile(f"[^{_ALPHANUM}{_MARK};:&=+$,.@\\[\\]%{_OTHER}]")
_SCHEME_END = re.compile(r"[:/?#]")
_SCHEME_PROBLEM = re.compile(r"[^A-Za-z0-9+\-.]")
_AUTHORITY_END = re.compile(r"[/?#]")
_PATH_END = re.compile(r"[?#]")
_LABEL = r"[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*"  # unambiguous, so matching stays linear
_TOP_LABEL = r"[A-Za-z][A-Za-z0-9]*(?:-+[A-Za-z0-9]+)*"
_HOSTNAME = re.compile(f"{_LABEL}(?:\\.{_LABEL})*\\.?")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]*")
_URIC_CHARS = r"A-Za-z0-9\-_.!~*'();/?:@&=+$,\[\]%"
# Most URLs are http(s) with a plain hostname and ASCII components. Every such string is one
# java.net.URI accepts, with these groups, once its "%" escapes are checked. The host is atomic
# and the rest possessive: only the longest host or component can be followed by what comes
# next, so giving characters back could only cost time (quadratic, on a long host and path).
_ORDINARY_URL = re.compile(
    r"(https?)://"
    f"((?>(?:{_LABEL}\\.)*{_TOP_LABEL}\\.?))"
    r"(?::([0-9]{1,9}))?"
    r"(/[A-Za-z0-9\-_.!~*'():@&=+$,;/%]*+)?"
    f"(?:\\?([{_URIC_CHARS}]*+))?"
    f"(?:#([{_URIC_CHARS}]*+))?"
)
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_java_uri(text: str) -> JavaUri:
    """``new java.net.URI(text)``; ``_JavaSyntaxError`` with Java's message otherwise."""
    ordinary = _ORDINARY_URL.fullmatch(text)
    if ordinary is not None and ("%" not in text or not _MALFORMED_ESCAPE.search(text)):
        scheme, host, port, path, query, fragment = ordinary.groups()
        return JavaUri(text, scheme, host, int(port) if port else -1, path or "", query, fragment)
    length = len(text)
    scheme = host = path = query = fragment = None
    port = -1
    end_of_scheme = _SCHEME_END.search(text)
    if end_of_scheme is not None and end_of_scheme.group() == ":":
        colon = end_of_scheme.start()
        if colon == 0:
            raise _JavaSyntaxError("Expected scheme name", 0, text)
        if not ("A" <= text[0] <= "Z" or "a" <= text[0] <= "z"):
            raise _JavaSyntaxError("Illegal character in scheme name", 0, text)
        problem = _SCHEME_PROBLEM.search(text, 1, colon)
        if problem is not None:
            raise _JavaSyntaxError("Illegal character in scheme name", problem.start(), text)
        scheme = text[:colon]
        position = colon + 1
        if text.startswith("/", position):
            host, port, path, query, position = _hierarchical(text, position)
        else:  # opaque, e.g. mailto:x@y.com: no authority, path or query
            end = text.find("#", position)
            end = length if end < 0 else end
            if end <= position:
                raise _JavaSyntaxError("Expected scheme-specific part", position, text)
            _check(text, position, end, _URIC_PROBLEM, "opaque part")
            position = end
    else:
        host, port, path, query, position = _hierarchical(text, 0)
    if position < length:  # at '#'
        _check(text, position + 1, length, _URIC_PROBLEM, "fragment")
        fragment = text[position + 1 :]
    return JavaUri(text, scheme, host, port, path, query, fragment)


def _check(text: str, start: int, end: int, problems: re.Pattern[str], component: str) -> None:
    problem = problems.search(text, start, end)
    if problem is not None:
        reason = (
            "Malformed escape pair"
            if problem.group() == "%"
            else f"Illegal character in {component}"
        )
        raise _JavaSyntaxError(reason, problem.start(), text)


def _hierarchical(text: str, position: int) -> tuple[str | None, int, str, str | None, int]:
    """``[//authority]path[?query]``: (host, port, path, query, position of '#' or the end)."""
    length = len(text)
    host, port, query = None, -1, None
    if text.startswith("//", position):
        position += 2
        found = _AUTHORITY_END.search(text, position)
        end = found.start() if found else length
        if end > position:
            host, port = _authority(text, position, end)
        elif end == length:
            raise _JavaSyntaxError("Expected authority", position, text)
        position = end
    found = _PATH_END.search(text, position)
    end = found.start() if found else length
    _check(text, position, end, _PATH_PROBLEM, "path")
    path = text[position:end]
    if end < length and text[end] == "?":
        fragment_start = text.find("#", end + 1)
        query_end = length if fragment_start < 0 else fragment_start
        _check(text, end + 1, query_end, _URIC_PROBLEM, "query")
        query = text[end + 1 : query_end]
        end = query_end
    return host, port, path, query, end


def _authority(text: str, start: int, end: int) -> tuple[str | None, int]:
    """Server-based authority (host, port) if it parses as one, else registry-based (None, -1).

    Java scans the characters of both kinds first, so a malformed escape fails right away. (The
    server scan lets any '%' through, as if an IPv6 scope could be there, unless the authority
    starts with ']': a JDK quirk.)
    """
    if text[start] == "]":
        server_problem = _SERVER_PROBLEM.search(text, start, end)
        if server_problem is not None and server_problem.group() == "%":
            raise _JavaSyntaxError("Malformed escape pair", server_problem.start(), text)
        server_chars = server_problem is None
    else:
        server_chars = _SERVER_CHARS_PROBLEM.search(text, start, end) is None
    registry_problem = _REG_NAME_PROBLEM.search(text, start, end)
    if registry_problem is not None and registry_problem.group() == "%":
        raise _JavaSyntaxError("Malformed escape pair", registry_problem.start(), text)
    registry_chars = registry_problem is None
    server_error = None
    if server_chars:
        try:
            return _server(text, start, end)
        except _JavaSyntaxError as error:
            server_error = error
    if registry_chars:
        return None, -1
    if server_error is not None:
        raise server_error
    raise _JavaSyntaxError("Illegal character in authority", start, text)


def _server(text: str, start: int, end: int) -> tuple[str, int]:
    """``[userinfo@]host[:port]`` with host an IPv6 reference, IPv4 address or hostname."""
    position = start
    at = text.find("@", start, end)
    if at >= 0:
        _check(text, start, at, _USERINFO_PROBLEM, "user info")
        position = at + 1
    if text.startswith("[", position):
        close = text.find("]", position, end)
        if close <= position + 1:
            at_close = end if close < 0 else close
            raise _JavaSyntaxError("Expected closing bracket for IPv6 address", at_close, text)
        _check_ipv6(text, position + 1, close)
        host = text[position : close + 1]
        position = close + 1
    else:
        after = _ipv4(text, position, end)
        if after <= position:
            after = _hostname(text, position, end)
        host = text[position:after]
        position = after
    port = -1
    if position < end and text[position] == ":":
        position += 1
        if end > position:
            digits = text[position:end]
            if not (digits.isascii() and digits.isdigit()):
                bad = next(i for i, char in enumerate(digits) if not "0" <= char <= "9")
                raise _JavaSyntaxError("Illegal character in port number", position + bad, text)
            if int(digits) > 2**31 - 1:
                raise _JavaSyntaxError("Malformed port number", position, text)
            port = int(digits)
            position = end
    if position < end:
        raise _JavaSyntaxError("Expected port number", position, text)
    return host, port


def _ipv4(text: str, start: int, end: int) -> int:
    """End of a dotted-quad host at ``start``, or -1 (then it is parsed as a hostname)."""
    run_end = _DIGITS_AND_DOTS.match(text, start, end).end()  # type: ignore[union-attr]
    parts = text[start:run_end].split(".")
    if len(parts) != 4 or not all(part and int(part) <= 255 for part in parts):
        return -1
    if run_end < end and text[run_end] != ":":
        return -1
    return run_end


def _hostname(text: str, start: int, end: int) -> int:
    match = _HOSTNAME.match(text, start, end)
    after = match.end() if match else start
    if after < end and text[after] != ":":
        raise _JavaSyntaxError("Illegal character in hostname", after, text)
    if after == start:
        raise _JavaSyntaxError("Expected hostname", start, text)
    labels = text[start:after].rstrip(".")
    last_label = start + labels.rfind(".") + 1
    if last_label > start and not text[last_label].isalpha():
        raise _JavaSyntaxError("Illegal character in hostname", last_label, text)
    return after


def _check_ipv6(text: str, start: int, end: int) -> None:
    address, _, scope = text[start:end].partition("%")
    hexes = address.replace(":", "").replace(".", "")
    if (
        not address
        or ":" not in address
        or not all(char in "0123456789abcdefABCDEF" for char in hexes)
        or (scope != "" and not (scope.isascii() and scope.isalnum()))
        or ("%" in text[start:end] and not scope)
    ):
        raise _JavaSyntaxError("Malformed IPv6 address", start, text)


# The fallback: scala-uri parses leniently (invalid escapes kept), then every component is
# percent-encoded again with its default character set minus '+', as Snowplow configured it.
_LENIENT_URI = re.compile(
    r"(?:([A-Za-z][A-Za-z0-9+.\-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S
)


def _reencode(text: str) -> str:
    scheme, authority, path, query, fragment = _LENIENT_URI.fullmatch(text).groups()  # type: ignore[union-attr]
    parts = [f"{scheme}:" if scheme else "", f"//{authority}" if authority is not None else ""]
    parts.append("/".join(_encode_component(segment) for segment in path.split("/")))
    if query:
        parameters = []
        for parameter in query.split("&"):
            name, separator, value = parameter.partition("=")
            encoded = _encode_component(name)
            parameters.append(f"{encoded}={_encode_component(value)}" if separator else encoded)
        parts.append("?" + "&".join(parameters))
    if fragment is not None:
        parts.append("#" + _encode_component(fragment))
    return "".join(parts)


def _encode_component(text: str) -> str:
    return quote(unquote(text, errors="replace"), safe="+")
