"""Shared pieces of the storage tests: settings over a backend's root, sample files, and faults
injected only where our code meets the outside world (botocore's events, the ``os`` functions the
local backend calls)."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.httpsession import URLLib3Session

from snowplow_dagster.batches.claiming import ClaimSettings
from snowplow_dagster.storage import Location

HOSTILE_NAMES = [
    "i-0a1b/_var_log_tomcat8_rotated_localhost_access_log.txt1502463662.gz",
    "with space/name with spaces.gz",
    "plus+sign/a+b=c.gz",
    "percent%/100%25 done %2F.gz",
    "unicode/événement-日本語-🙂.gz",
    "/".join(f"level{depth}" for depth in range(30)) + "/deep.gz",
    "empty/zero-byte.gz",
    "case/Log.gz",
    "case/log.gz",
    "case/LOG.gz",
]


def settings_for(root: Location, **overrides: Any) -> ClaimSettings:
    """The standard layout under one root: in/, processing/, archive/raw/, manifests/."""
    values: dict[str, Any] = {
        "in_locations": (root.join("in/"),),
        "processing": root.join("processing/"),
        "archive": root.join("archive/raw/"),
        "manifests": root.join("manifests/"),
        "quiet_period_seconds": 0,
    }
    values.update(overrides)
    return ClaimSettings(**values)


def sample_files(count: int, *, seed: int = 7) -> dict[str, bytes]:
    """Collector-log-like files in instance sub-folders, a few leading underscores, odd sizes."""
    rng = random.Random(seed)
    files = {}
    for number in range(count):
        underscores = "_" * (number % 2)
        name = f"i-{number % 3}/{underscores}localhost_access_log.txt{1_500_000_000 + number}.gz"
        files[name] = rng.randbytes(rng.choice([0, 1, 100, 4096, 70_000]))
    return files


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class S3Faults:
    """Errors injected into one boto3 client at the HTTP boundary (``before-send``), the way S3 or
    the network would produce them, so botocore's own retry logic sees and handles them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.injected = 0
        self._lock = threading.Lock()

    def fail(
        self,
        operation: str,
        error: str,
        *,
        after: int = 0,
        times: int | None = None,
    ) -> None:
        """Let the first ``after`` requests of ``operation`` through, then fail the next ``times``
        (all of them if None).

        ``error`` is ``500`` (InternalError), ``503`` (SlowDown), ``reset`` (connection reset)
        or ``403`` (AccessDenied, which nothing retries).
        """
        seen = 0

        def hook(request: Any, **_: Any) -> AWSResponse | None:
            nonlocal seen
            with self._lock:
                seen += 1
                if seen <= after or (times is not None and seen > after + times):
                    return None
                self.injected += 1
            if error == "reset":
                raise ConnectionClosedError(endpoint_url=request.url)
            return _error_response(request.url, error)

        self.client.meta.events.register(f"before-send.s3.{operation}", hook)

    def lose_response(self, operation: str, *, when: Callable[[Any], bool]) -> None:
        """The first matching request reaches S3 and is carried out, then the connection resets
        before the answer arrives, so botocore retries a request that already succeeded."""
        session = URLLib3Session()

        def hook(request: Any, **_: Any) -> None:
            with self._lock:
                if self.injected or not when(request):
                    return
                self.injected += 1
            session.send(request)
            raise ConnectionClosedError(endpoint_url=request.url)

        self.client.meta.events.register(f"before-send.s3.{operation}", hook)


_ERRORS = {
    "500": ("InternalError", "We encountered an internal error. Please try again."),
    "503": ("SlowDown", "Please reduce your request rate."),
    "403": ("AccessDenied", "Access Denied"),
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _error_response(url: str, status: str) -> AWSResponse:
    code, message = _ERRORS[status]
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return AWSResponse(url, int(status), {"Content-Type": "application/xml"}, _Body(body))


def enforce_bulk_delete_conditions(client: Any) -> None:
    """Answer DeleteObjects as S3 does: moto deletes every key whatever the ETag given with it, S3
    only those whose ETag matches, refusing the others with PreconditionFailed. The answer is built
    at the HTTP boundary from one conditional DeleteObject per key, which moto does enforce."""
    plain = boto3.client("s3")
    namespace = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}

    def hook(request: Any, **_: Any) -> AWSResponse:
        bucket = urlparse(request.url).path.strip("/").split("/")[0]
        refused = []
        for item in ElementTree.fromstring(request.body).findall("s3:Object", namespace):
            key = item.findtext("s3:Key", namespaces=namespace)
            etag = item.findtext("s3:ETag", namespaces=namespace)
            try:
                plain.delete_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
            except ClientError as error:
                if error.response["Error"]["Code"] == "PreconditionFailed":
                    refused.append(key)
                elif error.response["Error"]["Code"] != "NoSuchKey":
                    raise
        errors = "".join(
            f"<Error><Key>{escape(key)}</Key><Code>PreconditionFailed</Code>"
            "<Message>At least one of the pre-conditions you specified did not hold</Message>"
            "</Error>"
            for key in refused
        )
        body = f"<DeleteResult>{errors}</DeleteResult>".encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/xml"}, _Body(body))

    client.meta.events.register("before-send.s3.DeleteObjects", hook)


def fail_local(
    monkeypatch: pytest.MonkeyPatch, function: str, under: Location, *, after: int
) -> list[str]:
    """Make ``os.<function>`` (``replace`` commits a local copy, ``link`` a create-if-absent write,
    ``unlink`` deletes a file) fail with EIO for paths under ``under`` once ``after`` calls
    succeeded; returns the paths failed."""
    real = getattr(os, function)
    prefix = "/" + under.folder().key
    done: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        target = str(args[-1] if function in ("replace", "link") else args[0])
        if target.startswith(prefix) and ".snowplow-dagster-tmp-" not in target:
            with lock:
                if len(done) >= after:
                    failed.append(target)
                    raise OSError(errno.EIO, "injected I/O error", target)
                done.append(target)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, function, wrapped)
    return failed
