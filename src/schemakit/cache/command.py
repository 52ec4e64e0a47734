"""``schemakit redis check --url redis://...``: Redis's health, and an audit of its keys.

``--registry module:name`` names the application's :class:`~schemakit.cache.keys.KeyRegistry`; without it every
key counts as of no kind. Exit 0 when Redis answers and every key follows the registry, 1 when keys do not, 2
when Redis does not answer (within 300 ms) or the check cannot run.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from schemakit.cache.check import check_redis
from schemakit.cache.keys import KeyRegistry
from schemakit.errors import SchemakitError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``redis`` subcommands."""
    commands = parser.add_subparsers(dest="redis_command", required=True)
    check = commands.add_parser("check", help="ping Redis and audit its keys against the registry")
    check.add_argument("--url", required=True, help="redis://host:port/db")
    check.add_argument("--registry", metavar="MODULE:NAME", help="the application's KeyRegistry")
    check.add_argument("--format", choices=["text", "json"], default="text", help="report format")


def _registry(path: str | None) -> KeyRegistry | None:
    if path is None:
        return None
    module_name, _, name = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise SchemakitError(f"cannot load the registry {path!r}: {exc}") from None
    if not isinstance(found, KeyRegistry):
        raise SchemakitError(f"{path} is a {type(found).__name__}, not a KeyRegistry")
    return found


def run(arguments: argparse.Namespace) -> int:
    """Run ``schemakit redis check``; the exit code."""
    try:
        report = check_redis(arguments.url, _registry(arguments.registry))
    except (SchemakitError, ImportError, ValueError) as exc:
        print(f"schemakit redis check: {exc}", file=sys.stderr)
        return 2
    print(report.json() if arguments.format == "json" else report.text())
    if not report.reachable:
        return 2
    return 0 if report.passed else 1
