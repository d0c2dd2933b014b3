"""``snowplow-dagster lint config|resolver|enrichments|targets|all``: validate, touching no data.

EmrEtlRunner's ``lint resolver|enrichments|all`` plus ``config`` (it checked config.yml only when
running). With ``engine: emr``, ``config`` also checks the cluster request and uploads the
application where it will be read from (``check_application``). ``resolver`` also asks every
repository for one schema and says which answer (one that does not is a warning: the run may
still find its schemas elsewhere). ``enrichments`` lints the resolver first, as EmrEtlRunner does,
validates each enrichment JSON against its schema when the resolver finds it, then builds every
enrichment as a Spark worker would, so a bad parameter or a missing MaxMind database shows here
rather than in the middle of a batch. ``targets`` checks the storage targets folder (``all`` too,
when ``-t`` is given) without connecting. Errors name files and keys, never values.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

from snowplow_dagster.cli.inputs import config_path
from snowplow_dagster.config import ConfigError, check_enrichments_dir, load_config, load_resolver
from snowplow_dagster.config.targets import load_targets
from snowplow_dagster.enrich.enrichments.registry import (
    EnrichmentConfigError,
    EnrichmentRegistry,
    load_enrichments_directory,
)
from snowplow_dagster.enrich.iglu import parse_schema_uri
from snowplow_dagster.enrich.iglu_resolver import Resolver
from snowplow_dagster.enrich.iglu_validation import IgluValidator
from snowplow_dagster.resources import SnowplowPipeline

TARGETS = ("config", "resolver", "enrichments", "targets", "all")
_NEEDS = {
    "config": ("config",),
    "resolver": ("resolver",),
    "enrichments": ("resolver", "enrichments"),
    "targets": ("targets",),
    "all": ("config", "resolver", "enrichments"),
}
_FLAGS = {
    "config": "-c/--config",
    "resolver": "-r/--resolver",
    "enrichments": "-n/--enrichments",
    "targets": "-t/--targets",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("-c", "--config", help="config.yml, or - for stdin")
    parser.add_argument("-r", "--resolver", help="Iglu resolver JSON")
    parser.add_argument("-n", "--enrichments", help="enrichments directory")
    parser.add_argument("-t", "--targets", help="storage targets directory")
    parser.set_defaults(handler=command)


def lint_config(path: Path) -> str:
    """The whole config, and on the emr engine the cluster settings ``run`` checks before it
    moves anything (no AWS call)."""
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
    resolver = Resolver.from_config(load_resolver(path))
    for label, answer in resolver.check():
        print(f"{'' if answer.startswith('answers') else 'Warning: '}{label}: {answer}")
    return "Valid Iglu resolver config"


def lint_enrichments(path: Path, resolver_path: Path) -> str:
    folder = check_enrichments_dir(path)
    enrichments = load_enrichments_directory(folder)
    validator = IgluValidator(Resolver.from_config(load_resolver(resolver_path)))
    problems = []
    for file in sorted(folder.glob("*.json")):
        item = json.loads(file.read_text(encoding="utf-8"))  # loaded above, so valid JSON
        key = parse_schema_uri(item["schema"])
        if key is None:
            continue  # the registry below names it
        found = validator.resolver.lookup(key)
        if found.schema is None:
            print(f"Note: {file.name}: {key.uri} is in no repository; not validated")
            continue
        problems += [f"{file}: {_without_values(m)}" for m in validator.validate(key, item["data"])]
    if problems:
        raise EnrichmentConfigError("\n".join(problems))
    EnrichmentRegistry.from_json(enrichments)
    return "Valid enrichments"


def _without_values(message: str) -> str:
    """A validation message reduced to where and which rule: enrichment parameters hold secrets
    (API keys, database passwords), and messages about values quote them."""
    lines = message.splitlines()
    keyword = next(line.split(": ", 1)[1] for line in lines if line.startswith("    keyword:"))
    where = next(line.split(": ", 1)[1] for line in lines if line.startswith("    instance:"))
    pointer = json.loads(where)["pointer"] or "/"
    if json.loads(keyword) in ("required", "additionalProperties"):  # these name keys only
        return f"data{pointer}: {lines[0].removeprefix('error: ')}"
    return f"data{pointer}: fails the schema's {json.loads(keyword)} rule"


def lint_targets(path: Path) -> str:
    return f"Valid storage target: {load_targets(path).describe()}"


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
            "enrichments": (
                functools.partial(lint_enrichments, resolver_path=Path(args.resolver or "")),
                Path(args.enrichments) if args.enrichments else None,
            ),
            "targets": (lint_targets, Path(args.targets) if args.targets else None),
        }
        extra = ("targets",) if args.target == "all" and args.targets else ()
        for name in (*_NEEDS[args.target], *extra):
            check, path = checks[name]
            assert path is not None  # required above
            try:
                print(check(path))
            except (ConfigError, EnrichmentConfigError) as error:
                print(error, file=sys.stderr)
                failed = True
    return 1 if failed else 0
