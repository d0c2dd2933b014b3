"""user_agent_utils_config: br_*, os_* and dvce_* columns in UserAgentUtils' vocabulary.

Snowplow filled these ten columns with bitwalker UserAgentUtils 1.21, a Java library with no
Python port. Here they are derived from the same cached ua-parser result as ``ua_parser_context``
by the fixed rules below, chosen so that common user agents get the strings UserAgentUtils gave
(``Mobile Safari | Safari | 5.1 | Browser (mobile) | WEBKIT | iOS 5 (iPhone) | iOS | Apple Inc. |
Mobile | 1`` for an iPhone on iOS 5.1.1). Values can still differ from historic data for rare or
very new user agents: UserAgentUtils stopped learning new versions around 2016.

## Browser

ua-parser's user-agent family → br_family | br_name | br_type (``{major}``: ua-parser's major
version, left out when there is none):

- Chrome, Chromium → Chrome | Chrome {major} | Browser
- Chrome Mobile, Chrome Mobile iOS, Chrome Mobile WebView, Samsung Internet → Chrome |
  Chrome Mobile | Browser (mobile)
- Firefox → Firefox | Firefox {major} | Browser
- Firefox Mobile, Firefox iOS → Firefox | Firefox Mobile | Browser (mobile)
- Safari → Safari | Safari {major} | Browser
- Mobile Safari, Mobile Safari UI/WKWebView, Android (the stock browser) → Safari |
  Mobile Safari | Browser (mobile)
- IE → Internet Explorer | Internet Explorer {major} | Browser
- IE Mobile → Internet Explorer | IE Mobile {major} | Browser (mobile)
- Edge → Microsoft Edge | Microsoft Edge | Browser
- Edge Mobile → Microsoft Edge | Microsoft Edge Mobile | Browser (mobile)
- Opera → Opera | Opera {major} | Browser
- Opera Mobile, Opera Mini → Opera | Opera Mobile, Opera Mini | Browser (mobile)
- Thunderbird → Thunderbird | Thunderbird {major} | Email Client
- Outlook, Apple Mail → the family | the family | Email Client
- Lynx, Links, w3m, ELinks → the family | the family | Browser (text only)
- curl, Wget, Apache-HttpClient, Python Requests, okhttp, Go-http-client → Downloading Tool |
  Downloading Tool | Downloading tool
- any family on a device ua-parser calls ``Spider`` → Robot/Spider | Robot/Spider | Robot
- Other (not recognised) → Unknown | Unknown | unknown
- any other family → the family | the family | Browser (mobile) when dvce_type is Mobile or
  Tablet, else Browser

br_version is ua-parser's version parts joined by dots (``12.0``, ``5.1``, ``45.0.2454.85``),
empty for robots, unrecognised browsers and when there is no version.

br_renderengine is BLINK for Vivaldi and Opera Mobile, WORD for Outlook, OTHER for robots and
unrecognised browsers; otherwise the first engine token found in the user agent: ``Edge/`` →
EDGE_HTML, ``Trident/`` or ``MSIE`` → TRIDENT, ``Presto/`` → PRESTO, ``AppleWebKit/`` → WEBKIT
(Chrome included, as UserAgentUtils had it), ``KHTML`` → KHTML, ``Gecko/`` → GECKO, else OTHER.

## Operating system and device

ua-parser's OS family → os_name | os_family | os_manufacturer | dvce_type (``{major}``,
``{minor}``: ua-parser's OS version):

- Windows → Windows {major}[.{minor} unless 0] (Windows 7, Windows 8.1, Windows XP) | Windows |
  Microsoft Corporation | Computer
- Windows Phone → Windows Phone {major}[.{minor} unless 0] | Windows | Microsoft Corporation |
  Mobile
- Windows Mobile, Windows CE → Windows Mobile | Windows | Microsoft Corporation | Mobile
- iOS → iOS {major} (iPhone), (iPad) or (iPod) after ua-parser's device | iOS | Apple Inc. |
  Tablet for an iPad, else Mobile
- Mac OS X, macOS → Mac OS X | Mac OS X | Apple Inc. | Computer
- Android → Android {major}.x, plus `` Tablet`` when the user agent has no ``Mobile`` token
  (Android Mobile / Android Tablet without a version) | Android | Google Inc. | Tablet or Mobile
- Chrome OS → Chrome OS | Chrome OS | Google Inc. | Computer
- Linux and its distributions (Ubuntu, Debian, Fedora, ...) → Linux | Linux | Other | Computer
- BlackBerry OS → BlackBerryOS | BlackBerryOS | Research In Motion Limited | Mobile
- BlackBerry Tablet OS → BlackBerry Tablet OS | BlackBerryOS | Research In Motion Limited |
  Tablet
- Symbian OS → Symbian OS | Symbian OS | Symbian Ltd. | Mobile
- webOS → WebOS | WebOS | Hewlett Packard | Mobile
- Other (not recognised) → Unknown | Unknown | Other | Unknown
- any other family → the family | the family | Other | Unknown

dvce_type becomes Game console when the user agent names an Xbox, PlayStation or Nintendo.
dvce_ismobile is 1 for dvce_type Mobile only (tablets are 0), as in UserAgentUtils.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ua_parser import DefaultedResult

from snowplow_dagster.enrich.enrichments.config import reject_unknown_keys
from snowplow_dagster.enrich.enrichments.ua_parser import CACHE_SIZE, parse_useragent, parser
from snowplow_dagster.enrich.event import EnrichedEvent

_BROWSER, _MOBILE_BROWSER = "Browser", "Browser (mobile)"

# ua-parser family -> (br_family, br_name, name takes " {major}", br_type)
_BROWSERS: dict[str, tuple[str, str, bool, str]] = {
    "Chrome": ("Chrome", "Chrome", True, _BROWSER),
    "Chromium": ("Chrome", "Chrome", True, _BROWSER),
    "Chrome Mobile": ("Chrome", "Chrome Mobile", False, _MOBILE_BROWSER),
    "Chrome Mobile iOS": ("Chrome", "Chrome Mobile", False, _MOBILE_BROWSER),
    "Chrome Mobile WebView": ("Chrome", "Chrome Mobile", False, _MOBILE_BROWSER),
    "Samsung Internet": ("Chrome", "Chrome Mobile", False, _MOBILE_BROWSER),
    "Firefox": ("Firefox", "Firefox", True, _BROWSER),
    "Firefox Mobile": ("Firefox", "Firefox Mobile", False, _MOBILE_BROWSER),
    "Firefox iOS": ("Firefox", "Firefox Mobile", False, _MOBILE_BROWSER),
    "Safari": ("Safari", "Safari", True, _BROWSER),
    "Mobile Safari": ("Safari", "Mobile Safari", False, _MOBILE_BROWSER),
    "Mobile Safari UI/WKWebView": ("Safari", "Mobile Safari", False, _MOBILE_BROWSER),
    "Android": ("Safari", "Mobile Safari", False, _MOBILE_BROWSER),
    "IE": ("Internet Explorer", "Internet Explorer", True, _BROWSER),
    "IE Mobile": ("Internet Explorer", "IE Mobile", True, _MOBILE_BROWSER),
    "Edge": ("Microsoft Edge", "Microsoft Edge", False, _BROWSER),
    "Edge Mobile": ("Microsoft Edge", "Microsoft Edge Mobile", False, _MOBILE_BROWSER),
    "Opera": ("Opera", "Opera", True, _BROWSER),
    "Opera Mobile": ("Opera", "Opera Mobile", False, _MOBILE_BROWSER),
    "Opera Mini": ("Opera", "Opera Mini", False, _MOBILE_BROWSER),
    "Thunderbird": ("Thunderbird", "Thunderbird", True, "Email Client"),
    "Outlook": ("Outlook", "Outlook", False, "Email Client"),
    "Apple Mail": ("Apple Mail", "Apple Mail", False, "Email Client"),
    **{
        text: (text, text, False, "Browser (text only)")
        for text in ("Lynx", "Links", "w3m", "ELinks")
    },
    **{
        tool: ("Downloading Tool", "Downloading Tool", False, "Downloading tool")
        for tool in (
            "curl",
            "Wget",
            "Apache-HttpClient",
            "Python Requests",
            "okhttp",
            "Go-http-client",
        )
    },
}
_ROBOT = ("Robot/Spider", "Robot/Spider", None, "Robot", "OTHER")
_UNKNOWN_BROWSER = ("Unknown", "Unknown", None, "unknown", "OTHER")
_ENGINE_OVERRIDES = {"Vivaldi": "BLINK", "Opera Mobile": "BLINK", "Outlook": "WORD"}
_ENGINE_TOKENS = (
    ("edge/", "EDGE_HTML"),
    ("trident/", "TRIDENT"),
    ("msie", "TRIDENT"),
    ("presto/", "PRESTO"),
    ("applewebkit/", "WEBKIT"),
    ("khtml", "KHTML"),
    ("gecko/", "GECKO"),
)

_MICROSOFT, _APPLE, _GOOGLE, _RIM = (
    "Microsoft Corporation",
    "Apple Inc.",
    "Google Inc.",
    "Research In Motion Limited",
)
# ua-parser OS family -> (os_name, os_family, os_manufacturer, dvce_type); names needing the
# version or the device are built in _os().
_OPERATING_SYSTEMS: dict[str, tuple[str, str, str, str]] = {
    "Windows Mobile": ("Windows Mobile", "Windows", _MICROSOFT, "Mobile"),
    "Windows CE": ("Windows Mobile", "Windows", _MICROSOFT, "Mobile"),
    "Mac OS X": ("Mac OS X", "Mac OS X", _APPLE, "Computer"),
    "macOS": ("Mac OS X", "Mac OS X", _APPLE, "Computer"),
    "Chrome OS": ("Chrome OS", "Chrome OS", _GOOGLE, "Computer"),
    "BlackBerry OS": ("BlackBerryOS", "BlackBerryOS", _RIM, "Mobile"),
    "BlackBerry Tablet OS": ("BlackBerry Tablet OS", "BlackBerryOS", _RIM, "Tablet"),
    "Symbian OS": ("Symbian OS", "Symbian OS", "Symbian Ltd.", "Mobile"),
    "webOS": ("WebOS", "WebOS", "Hewlett Packard", "Mobile"),
    "Other": ("Unknown", "Unknown", "Other", "Unknown"),
    **{
        distribution: ("Linux", "Linux", "Other", "Computer")
        for distribution in (
            "Linux",
            "Ubuntu",
            "Debian",
            "Fedora",
            "Red Hat",
            "SUSE",
            "openSUSE",
            "CentOS",
            "Mint",
            "Arch Linux",
            "Gentoo",
            "Slackware",
            "Mandriva",
            "Kubuntu",
        )
    },
}
_CONSOLE_TOKENS = ("xbox", "playstation", "nintendo")
_IOS_DEVICES = ("iPhone", "iPad", "iPod")


class UserAgentUtils:
    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> UserAgentUtils:
        reject_unknown_keys(parameters, (), "parameters")
        parser()
        return cls()

    def enrich(self, event: EnrichedEvent, useragent: str) -> None:
        vars(event).update(_columns(useragent))  # one dict update beats ten setattr calls


@functools.lru_cache(maxsize=CACHE_SIZE)
def _columns(useragent: str) -> dict[str, str | None]:
    result = parse_useragent(useragent)
    lowered = useragent.lower()
    os_name, os_family, os_manufacturer, dvce_type = _os(result, lowered)
    if any(token in lowered for token in _CONSOLE_TOKENS):
        dvce_type = "Game console"
    br_family, br_name, br_version, br_type, engine = _browser(result, lowered, dvce_type)
    columns = {
        "br_name": br_name,
        "br_family": br_family,
        "br_version": br_version,
        "br_type": br_type,
        "br_renderengine": engine,
        "os_name": os_name,
        "os_family": os_family,
        "os_manufacturer": os_manufacturer,
        "dvce_type": dvce_type,
        "dvce_ismobile": "1" if dvce_type == "Mobile" else "0",
    }
    # Columns without a value stay unset (None), which keeps EnrichedEvent.to_tsv on its fast path.
    return {name: value for name, value in columns.items() if value is not None}


def _browser(
    result: DefaultedResult, lowered: str, dvce_type: str
) -> tuple[str, str, str | None, str, str]:
    agent = result.user_agent
    if result.device.family == "Spider":
        return _ROBOT
    if agent.family == "Other":
        return _UNKNOWN_BROWSER
    parts = [agent.major, agent.minor, agent.patch, agent.patch_minor]
    version = ".".join(part for part in parts if part is not None) or None
    engine = _ENGINE_OVERRIDES.get(agent.family) or next(
        (engine for token, engine in _ENGINE_TOKENS if token in lowered), "OTHER"
    )
    known = _BROWSERS.get(agent.family)
    if known is None:
        kind = _MOBILE_BROWSER if dvce_type in ("Mobile", "Tablet") else _BROWSER
        return agent.family, agent.family, version, kind, engine
    family, name, versioned, kind = known
    if versioned and agent.major is not None:
        name = f"{name} {agent.major}"
    return family, name, version, kind, engine


def _os(result: DefaultedResult, lowered: str) -> tuple[str, str, str, str]:
    os = result.os
    major = os.major
    if os.family in ("Windows", "Windows Phone"):
        version = f" {major}" if major else ""
        if major and os.minor not in (None, "0"):
            version += f".{os.minor}"
        device = "Computer" if os.family == "Windows" else "Mobile"
        return f"{os.family}{version}", "Windows", _MICROSOFT, device
    if os.family == "iOS":
        device = next((d for d in _IOS_DEVICES if result.device.family.startswith(d)), None)
        name = "iOS" + (f" {major}" if major else "") + (f" ({device})" if device else "")
        return name, "iOS", _APPLE, "Tablet" if device == "iPad" else "Mobile"
    if os.family == "Android":
        tablet = "mobile" not in lowered
        suffix = " Tablet" if tablet else ""
        name = (
            f"Android {major}.x{suffix}" if major else f"Android {'Tablet' if tablet else 'Mobile'}"
        )
        return name, "Android", _GOOGLE, "Tablet" if tablet else "Mobile"
    return _OPERATING_SYSTEMS.get(os.family) or (os.family, os.family, "Other", "Unknown")
