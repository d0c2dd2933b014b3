"""Spark settings as Spark will read them, checked when the config is validated.

A value Spark cannot read fails only once a Spark step starts: after staging, in a JVM's output,
without the key's name. So every setting we hand to Spark (``snowplow_dagster.local_spark`` and
the ``spark-defaults`` classification of ``aws.emr.configuration``) is checked here, by ``lint``
and before a run moves anything.

- The local driver's heap (``local_spark.driver_memory``, or ``spark.driver.memory`` in
  ``local_spark.conf``) is the JVM's ``-Xmx`` as written (spark-submit's launcher passes it on),
  so it takes the JVM's format: digits and one of ``k``, ``m``, ``g``, ``t`` (``512m``, ``2g``).
  A bare number is bytes to the JVM, never what was meant, and ``2gb`` is refused by it.
- Other sizes (``spark.executor.memory``, ``spark.*.memoryOverhead``, a cluster-mode driver's
  memory...) are parsed by Spark (``JavaUtils.byteStringAs``): digits and an optional ``b``,
  ``k``, ``kb``, ``m``, ``mb``, ``g``, ``gb``, ``t``, ``tb``, ``p`` or ``pb``; no fractions, no
  spaces.
- Only ``spark.*`` properties: spark-submit ignores any other ``--conf`` with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import SecretStr

LOCAL_DRIVER_HEAP = "spark.driver.memory"
SIZE_SETTINGS = frozenset(
    {
        "spark.driver.memory",
        "spark.executor.memory",
        "spark.yarn.am.memory",
        "spark.driver.memoryOverhead",
        "spark.executor.memoryOverhead",
        "spark.yarn.am.memoryOverhead",
        "spark.driver.maxResultSize",
        "spark.executor.pyspark.memory",
        "spark.memory.offHeap.size",
        "spark.sql.files.maxPartitionBytes",
    }
)
MIN_DRIVER_HEAP_MB = 450
"""Spark refuses a driver whose heap is under 1.5 × its 300 MiB reserve
(``INVALID_DRIVER_MEMORY.SYSTEM_MEMORY``)."""

_HEAP = re.compile(r"([0-9]+)([kmgt])", re.IGNORECASE)
_BYTES = re.compile(r"[0-9]+(b|k|kb|m|mb|g|gb|t|tb|p|pb)?", re.IGNORECASE)
_HEAP_MB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_LOCAL_MASTER = re.compile(
    r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?"
    r"|local-cluster\[[1-9][0-9]*, *[1-9][0-9]*, *[1-9][0-9]*\]"
    r"|spark://[^\s,:/]+:[0-9]+(,[^\s,:/]+:[0-9]+)*"
)


def heap_size_mb(value: str) -> float:
    """A JVM heap size (``512m``, ``2g``) in MiB; ``ValueError`` saying the format otherwise."""
    match = _HEAP.fullmatch(value.strip())
    if match is None:
        raise ValueError(
            f"must be a JVM heap size such as 512m or 2g (digits, then k, m, g or t), got {value!r}"
        )
    return int(match.group(1)) * _HEAP_MB[match.group(2).lower()]


def check_driver_memory(value: str) -> str:
    """``local_spark.driver_memory``: the local driver's heap, where local Spark does its work."""
    if heap_size_mb(value) < MIN_DRIVER_HEAP_MB:
        raise ValueError(
            f"must be at least {MIN_DRIVER_HEAP_MB}m: Spark will not start a driver with a "
            f"smaller heap, got {value!r}"
        )
    return value.strip()


def check_local_master(value: str) -> str:
    """``local_spark.master``: where the local engine's spark-submit runs the job."""
    if _LOCAL_MASTER.fullmatch(value.strip()) is None:
        raise ValueError(
            "must be a Spark master the local engine can use: local, local[*], local[N], "
            "local[N,maxFailures] or spark://host:port (EMR runs on YARN with "
            f"snowplow_dagster.engine: emr), got {value!r}"
        )
    return value.strip()


def spark_property_problems(
    properties: Mapping[str, str | SecretStr], *, local_driver: bool
) -> list[str]:
    """``name: problem`` for each Spark property Spark would ignore or could not read;
    ``local_driver``: the properties go to a local spark-submit, whose driver heap is ``-Xmx``.

    Values are quoted only for size settings, whose names do not look secret.
    """
    problems = []
    for name, value in properties.items():
        if not name.startswith("spark."):
            problems.append(f"{name}: is not a spark.* property, which spark-submit ignores")
            continue
        if isinstance(value, SecretStr):  # a PropertyMap's secret-looking name: not a size
            continue
        try:
            if local_driver and name == LOCAL_DRIVER_HEAP:
                heap_size_mb(value)
            elif name in SIZE_SETTINGS and _BYTES.fullmatch(value.strip()) is None:
                raise ValueError(
                    "must be a size such as 384m or 2g (digits, then b, k, m, g, t or p, "
                    f"optionally followed by b), got {value!r}"
                )
        except ValueError as error:
            problems.append(f"{name}: {error}")
    return problems
