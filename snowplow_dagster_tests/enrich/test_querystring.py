"""Querystring parsing and the other request decodings, against the JVM behaviour they copy."""

from __future__ import annotations

import base64

import pytest

from snowplow_dagster.enrich.payload import ProcessingError
from snowplow_dagster.enrich.querystring import (
    decode_base64url,
    decode_string,
    encode_base64url,
    parse_querystring,
    single_encode_pcts,
    url_decode,
)

URI = "http://localhost/?"


def _error(qs: str, reason: str) -> str:
    return (
        f"Exception extracting name-value pairs from querystring [{qs}] "
        f"with encoding [UTF-8]: [{reason}: {URI}{qs}]"
    )


@pytest.mark.parametrize(
    ("qs", "expected"),
    [
        ("e=pv&p=web", {"e": "pv", "p": "web"}),
        ("&e=pv", {"e": "pv"}),  # the leading "&" of CloudFront lines is harmless
        ("e=pv;p=web;tv=js-2", {"e": "pv", "p": "web", "tv": "js-2"}),
        ("a=1&a=2;a=3", {"a": "3"}),  # the last duplicate wins
        ("flag&empty=", {"flag": None, "empty": ""}),
        ("a=b=c", {"a": "b=c"}),  # split at the first "="
        ("=v", {"": "v"}),
        ("q=gateway+oracle+cards", {"q": "gateway oracle cards"}),
        ("q=a%2Bb", {"q": "a+b"}),
        ("page=Psychic%20Bazaar%09Shop", {"page": "Psychic Bazaar\tShop"}),
        ("tz=Europe%2FLondon", {"tz": "Europe/London"}),
        ("name=%CE%A7%CE%B1%CF%81%CE%B9%CF%84%CE%AF%CE%BD%CE%B7", {"name": "Χαριτίνη"}),
        ("e=%F0%9F%98%80", {"e": "😀"}),
        ("a%3Db=1", {"a=b": "1"}),  # an encoded "=" is part of the name
        ("a=%26&b=%3B", {"a": "&", "b": ";"}),
        ("a=%00", {"a": "\x00"}),
        ("a=%5C%5Cx41", {"a": "\\\\x41"}),  # decoded backslashes stay literal
        ("bad=%C3", {"bad": "\ufffd"}),  # malformed UTF-8 is replaced, not an error
        ("a=1#fragment", {"a": "1"}),  # a raw "#" ends the query
        ("#only-a-fragment", {}),
        ("a=/?:@$,[]!~*'()", {"a": "/?:@$,[]!~*'()"}),
    ],
)
def test_parse_querystring(qs, expected):
    assert parse_querystring(qs) == expected


@pytest.mark.parametrize(
    ("qs", "expected"),
    [
        # java.util.Scanner skips one separator before each token.
        ("a&&b", {"a": None, "": None, "b": None}),
        ("&", {}),
        ("&&", {"": None}),
        ("a&", {"a": None}),
        ("a&&", {"a": None, "": None}),
        (";a", {"a": None}),
    ],
)
def test_separator_runs_follow_the_scanner(qs, expected):
    assert parse_querystring(qs) == expected


@pytest.mark.parametrize("qs", [None, ""])
def test_no_querystring_is_an_empty_map(qs):
    assert parse_querystring(qs) == {}


def test_raw_non_ascii_text_is_cast_to_bytes_like_httpclient():
    # URLEncodedUtils casts each char of the raw text to one byte; é (U+00E9) alone is invalid
    # UTF-8, while its encoded form decodes.
    assert parse_querystring("q=caf%C3%A9&r=café") == {"q": "café", "r": "caf\ufffd"}


@pytest.mark.parametrize("char", [" ", '"', "<", ">", "\\", "^", "`", "{", "|", "}", "\t"])
def test_illegal_raw_character_fails_the_line(char):
    qs = f"e=pv&page=a{char}b"
    with pytest.raises(ProcessingError) as error:
        parse_querystring(qs)
    assert error.value.messages == [_error(qs, f"Illegal character in query at index {18 + 11}")]


def test_illegal_character_message_is_javas():
    with pytest.raises(ProcessingError) as error:
        parse_querystring("e=pv&x={")
    assert error.value.messages == [
        "Exception extracting name-value pairs from querystring [e=pv&x={] with encoding [UTF-8]:"
        " [Illegal character in query at index 25: http://localhost/?e=pv&x={]"
    ]


@pytest.mark.parametrize(
    ("qs", "index"),
    [("a=%zz", 20), ("a=%4", 20), ("a=%", 20), ("a=100%&b=1", 23), ("a=%4#frag", 20)],
)
def test_malformed_escape_fails_the_line(qs, index):
    with pytest.raises(ProcessingError) as error:
        parse_querystring(qs)
    assert error.value.messages == [_error(qs, f"Malformed escape pair at index {index}")]


def test_fragment_is_checked_too():
    with pytest.raises(ProcessingError) as error:
        parse_querystring("a=1#b#c")
    assert error.value.messages == [_error("a=1#b#c", "Illegal character in fragment at index 23")]


@pytest.mark.parametrize(
    "char",
    ["\u00a0", "\u2003", "\u2028", "\u180e", "\u0085", "\u0080"],  # Java spaces and controls
)
def test_unicode_spaces_and_controls_are_illegal(char):
    with pytest.raises(ProcessingError, match="Illegal character in query at index 20"):
        parse_querystring(f"a={char}")


def test_error_index_counts_utf16_units_like_java():
    # "😀" is two UTF-16 units: the space after it is at Java index 18 + 4.
    with pytest.raises(ProcessingError) as error:
        parse_querystring("a=😀 ")
    assert error.value.messages == [_error("a=😀 ", "Illegal character in query at index 22")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("page=Celestial%2520Tarot", "page=Celestial%20Tarot"),
        ("tz=Europe%252FLondon", "tz=Europe%2FLondon"),
        ("Loading - 70%25 Complete", "Loading - 70%25 Complete"),
        ("%2588", "%88"),  # ambiguous, treated as double-encoded
        ("%252520", "%2520"),  # one pass only
        ("a%25zz%2541", "a%25zz%41"),
        ("%25%2541", "%25%41"),
        ("no percent", "no percent"),
    ],
)
def test_single_encode_pcts(raw, expected):
    assert single_encode_pcts(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mozilla/5.0%20(X11;%20Linux)", "Mozilla/5.0 (X11; Linux)"),
        (
            "Mozilla/5.0+(compatible;+Googlebot/2.1;+%2Bhttp://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        ("%E2%82%AC%20and%20%C3%A9", "€ and é"),
        ("%+1", "\x01"),  # Integer.parseInt takes a sign
        ("plain", "plain"),
    ],
)
def test_url_decode(text, expected):
    assert url_decode(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%", "URLDecoder: Incomplete trailing escape (%) pattern"),
        ("50%", "URLDecoder: Incomplete trailing escape (%) pattern"),
        ("%4", "URLDecoder: Incomplete trailing escape (%) pattern"),
        ("%41%4", "URLDecoder: Incomplete trailing escape (%) pattern"),
        (
            "a%zzb",
            'URLDecoder: Illegal hex characters in escape (%) pattern - For input string: "zz"',
        ),
        ("%-1", "URLDecoder: Illegal hex characters in escape (%) pattern - negative value"),
    ],
)
def test_url_decode_fails_like_urldecoder(text, message):
    with pytest.raises(ValueError) as error:
        url_decode(text)
    assert str(error.value) == message


def test_decode_string_removes_newlines_and_expands_tabs():
    assert decode_string("useragent", "a%0D%0Ab%09c+d") == "ab    c d"


def test_decode_string_error_names_the_field():
    with pytest.raises(ProcessingError) as error:
        decode_string("useragent", "Mozilla%")
    assert error.value.messages == [
        "Field [useragent]: Exception URL-decoding [Mozilla%] (encoding [UTF-8]): "
        "[URLDecoder: Incomplete trailing escape (%) pattern]"
    ]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("eyJhIjoxfQ", '{"a":1}'),  # unpadded
        ("eyJhIjoxfQ==", '{"a":1}'),
        ("Pz8/Pj4+", "???>>>"),  # standard alphabet
        ("Pz8_Pj4-", "???>>>"),  # URL-safe alphabet
        ("eyJh\r\nIjox fQ", '{"a":1}'),  # other characters are skipped
        ("eyJhIjoxfQ==eyJi", '{"a":1}'),  # the first "=" ends the data
        ("YWJjZ", "abc"),  # a dangling sixth of a byte is dropped
        ("", ""),
    ],
)
def test_decode_base64url_is_as_lenient_as_commons_codec(encoded, expected):
    assert decode_base64url(encoded) == expected


def test_encode_base64url_chunks_like_commons_codec():
    text = '{"data":[' + ",".join(['{"uri":"https://example.com/ünïcode"}'] * 5) + "]}"
    encoded = encode_base64url(text)
    lines = encoded.split("\r\n")
    assert encoded.endswith("\r\n") and lines[-1] == ""
    assert all(len(line) == 76 for line in lines[:-2]) and 0 < len(lines[-2]) <= 76
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert base64.urlsafe_b64decode("".join(lines) + "==").decode() == text
    assert decode_base64url(encoded) == text
