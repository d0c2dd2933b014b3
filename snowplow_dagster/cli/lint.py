"""``snowplow-dagster lint config|resolver|enrichments|all``: validate, touching no data.

EmrEtlRunner's ``lint resolver|enrichments|all`` plus ``config`` (it checked config.yml only when
running). ``enrichments`` lints the resolver first, as EmrEtlRunner does, then builds every
enrichment as a Spark worker would, so a bad parameter or a missing MaxMind database shows here
rather than in the middle of a batch. With ``engine: emr``, ``config`` also checks the cluster
request and uploads the application where it will be read from (``check_application``). Errors
name files and keys, never values.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from snowplow_dagster.cli.inputs import config_path
from snowplow_dagster.config import ConfigError, check_enrichments_dir, load_config, load_resolver
from snowplow_dagster.enrich.enrichments.registry import (
    EnrichmentConfigError,
    EnrichmentRegistry,
    load_enrichments_directory,
)
from snowplow_dagster.resources.pipeline import SnowplowPipeline

TARGETS = ("config", "resolver", "enrichments", "all")
_NEEDS = {
    "config": ("config",),
    "resolver": ("resolver",),
    "enrichments": ("resolver", "enrichments"),
    "all": ("config", "resolver", "enrichments"),
}
_FLAGS = {"config": "-c/--config", "resolver": "-r/--resolver", "enrichments": "-n/--enrichments"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("-c", "--config", help="config.yml, or - for stdin")
    parser.add_argument("-r", "--resolver", help="Iglu resolver JSON")
    parser.add_argument("-n", "--enrichments", help="enrichments directory")
    parser.set_defaults(handler=command)


def lint_config(path: Path) -> str:
    config = load_config(path)
    for warning in config.warnings:
        print(f"Warning: {config.source}: {warning}")
    if config.engine == "emr":
        # The cluster request and the application location, as run checks them before moving
        # anything: this uploads the release's application when it is not there yet.
        SnowplowPipeline(config_path=str(path)).check_application()
        return f"Valid configuration, EMR request and application location: {config.source}"
    return f"Valid configuration: {config.source}"


def lint_resolver(path: Path) -> str:
    load_resolver(path)
    return "Valid Iglu resolver config"


def lint_enrichments(path: Path) -> str:
    EnrichmentRegistry.from_json(load_enrichments_directory(check_enrichments_dir(path)))
    return "Valid enrichments"


def command(args: argparse.Namespace) -> int:
    missing = [_FLAGS[name] for name in _NEEDS[args.target] if getattr(args, name) is None]
    if missing:
        print(f"lint {args.target} needs {' and '.join(missing)}", file=sys.stderr)
        return 1
    failed = False
    given = config_path(args.config) if args.config else contextlib.nullcontext(None)
    with given as config:
        checks: dict[str, tuple[Callable[[Path], str], Path | None]] = {
            "config": (lint_config, config),
            "resolver": (lint_resolver, Path(args.resolver) if args.resolver else None),
            "enrichments": (lint_enrichments, Path(args.enrichments) if args.enrichments else None),
        }
        for name in _NEEDS[args.target]:
            check, path = checks[name]
            assert path is not None  # required above
            try:
                print(check(path))
            except (ConfigError, EnrichmentConfigError) as error:
                print(error, file=sys.stderr)
                failed = True
    return 1 if failed else 0
