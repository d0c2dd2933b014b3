import pytest

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.user_agent_utils import UserAgentUtils
from snowplow_dagster.enrich.event import EnrichedEvent

COLUMNS = (
    "br_name",
    "br_family",
    "br_version",
    "br_type",
    "br_renderengine",
    "os_name",
    "os_family",
    "os_manufacturer",
    "dvce_type",
    "dvce_ismobile",
)
WEBKIT_LIKE_GECKO = "AppleWebKit/537.36 (KHTML, like Gecko)"


def _columns(useragent: str) -> str:
    event = EnrichedEvent()
    UserAgentUtils.from_parameters({}).enrich(event, useragent)
    return " | ".join(getattr(event, column) or "" for column in COLUMNS)


@pytest.mark.parametrize(
    ("useragent", "expected"),
    [
        # The two targets from Spark Enrich 1.18's specs (UserAgentUtils 1.21).
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 "
            "(KHTML, like Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3",
            "Mobile Safari | Safari | 5.1 | Browser (mobile) | WEBKIT | "
            "iOS 5 (iPhone) | iOS | Apple Inc. | Mobile | 1",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:12.0) Gecko/20100101 Firefox/12.0",
            "Firefox 12 | Firefox | 12.0 | Browser | GECKO | "
            "Windows 7 | Windows | Microsoft Corporation | Computer | 0",
        ),
        # The mapping table's other main rows.
        (
            "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko",
            "Internet Explorer 11 | Internet Explorer | 11.0 | Browser | TRIDENT | "
            "Windows 8.1 | Windows | Microsoft Corporation | Computer | 0",
        ),
        (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT_LIKE_GECKO} "
            "Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063",
            "Microsoft Edge | Microsoft Edge | 15.15063 | Browser | EDGE_HTML | "
            "Windows 10 | Windows | Microsoft Corporation | Computer | 0",
        ),
        (
            f"Mozilla/5.0 (Linux; Android 10; SM-G973F) {WEBKIT_LIKE_GECKO} "
            "Chrome/83.0.4103.106 Mobile Safari/537.36",
            "Chrome Mobile | Chrome | 83.0.4103.106 | Browser (mobile) | WEBKIT | "
            "Android 10.x | Android | Google Inc. | Mobile | 1",
        ),
        (
            f"Mozilla/5.0 (Linux; Android 4.4.2; Nexus 7 Build/KOT49H) {WEBKIT_LIKE_GECKO} "
            "Chrome/34.0.1847.114 Safari/537.36",
            "Chrome 34 | Chrome | 34.0.1847.114 | Browser | WEBKIT | "
            "Android 4.x Tablet | Android | Google Inc. | Tablet | 0",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 9_3_2 like Mac OS X) AppleWebKit/601.1.46 "
            "(KHTML, like Gecko) Version/9.0 Mobile/13F69 Safari/601.1",
            "Mobile Safari | Safari | 9.0 | Browser (mobile) | WEBKIT | "
            "iOS 9 (iPad) | iOS | Apple Inc. | Tablet | 0",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/14.1.1 Safari/605.1.15",
            "Safari 14 | Safari | 14.1.1 | Browser | WEBKIT | "
            "Mac OS X | Mac OS X | Apple Inc. | Computer | 0",
        ),
        (
            "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.229 Version/11.62",
            "Opera 11 | Opera | 11.62 | Browser | PRESTO | "
            "Windows 7 | Windows | Microsoft Corporation | Computer | 0",
        ),
        (
            "Mozilla/5.0 (Windows Phone 8.1; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0; "
            "NOKIA; Lumia 635) like Gecko",
            "IE Mobile 11 | Internet Explorer | 11.0 | Browser (mobile) | TRIDENT | "
            "Windows Phone 8.1 | Windows | Microsoft Corporation | Mobile | 1",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:89.0) Gecko/20100101 Firefox/89.0",
            "Firefox 89 | Firefox | 89.0 | Browser | GECKO | Linux | Linux | Other | Computer | 0",
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Robot/Spider | Robot/Spider |  | Robot | OTHER | "
            "Unknown | Unknown | Other | Unknown | 0",
        ),
        (
            "curl/7.64.1",
            "Downloading Tool | Downloading Tool | 7.64.1 | Downloading tool | OTHER | "
            "Unknown | Unknown | Other | Unknown | 0",
        ),
        (
            "Mozilla/5.0 (PlayStation 4 3.11) AppleWebKit/537.73 (KHTML, like Gecko)",
            "Unknown | Unknown |  | unknown | OTHER | Unknown | Unknown | Other | Game console | 0",
        ),
        (
            f"Mozilla/5.0 (Linux; Android 9; SAMSUNG SM-G960F) {WEBKIT_LIKE_GECKO} "
            "SamsungBrowser/14.2 Chrome/87.0.4280.141 Mobile Safari/537.36",
            "Chrome Mobile | Chrome | 14.2 | Browser (mobile) | WEBKIT | "
            "Android 9.x | Android | Google Inc. | Mobile | 1",
        ),
        ("", "Unknown | Unknown |  | unknown | OTHER | Unknown | Unknown | Other | Unknown | 0"),
    ],
)
def test_mapping(useragent, expected):
    assert _columns(useragent) == expected


def test_no_parameters_are_accepted():
    with pytest.raises(EnrichmentConfigError, match="unsupported key"):
        UserAgentUtils.from_parameters({"database": "x"})
