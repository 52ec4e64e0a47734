"""The lock-safety gate (PostgreSQL): migrations that would lock a busy table are found before they run.

Two linters, both pointed at the revision file:

* squawk (the ``squawk-cli`` package) reads each revision's offline SQL as if that revision were migrated
  alone, so a table created by an earlier revision is not mistaken for a new, empty one.
* A lint of the Alembic operations themselves, which gives the line in the ``.py`` file:

  =========================  ============================================================================
  ``index-not-concurrent``   ``create_index`` on an existing table without ``postgresql_concurrently=True``
  ``not-null-no-default``    ``add_column`` of a NOT NULL column without a ``server_default``
  ``constraint-not-valid``   a foreign key or check on an existing table that is validated while locked
  ``column-type-change``     ``alter_column(type_=...)``: a rewrite of the table under an exclusive lock
  ``rename``                 renaming a column or table breaks the code still running against it
  ``drop``                   dropping a column or table breaks the code still running against it
  =========================  ============================================================================

A finding made on purpose is accepted by a comment on the operation's line or in the comment lines right
above it, with a reason: ``# schemakit: allow index-not-concurrent -- the table is empty at this point``. A
squawk rule is accepted the same way (``# schemakit: allow adding-not-nullable-field -- ...``): squawk's
findings point at the line of the operation that wrote the statement, and a comment covers that operation
alone.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory

from schemakit.gates.findings import Finding, GateResult
from schemakit.gates.history import function_line
from schemakit.gates.revision_source import (
    MARKER,
    accepted,
    annotating,
    call_name,
    declared_phase,
    is_true,
    keyword,
    markers,
    operations,
    upgrade_function,
)
from schemakit.gates.roundtrip import linear_history, selected
from schemakit.migrations.options import with_options
from schemakit.migrations.phases import CONTRACT, revision_phase
from schemakit.settings import DatabaseSettings

__all__ = ["MARKER", "SQUAWK_EXCLUDED_RULES", "check_lock_safety", "lint_operations", "squawk_findings"]

GATE = "lock-safety"
#: The PostgreSQL major version squawk judges for when no server says otherwise: the oldest one supported.
DEFAULT_POSTGRES_VERSION = 15
#: squawk rules about style rather than locks, which the gate does not report.
SQUAWK_EXCLUDED_RULES = (
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "require-timeout-settings",
)
_OFFLINE_URL = "postgresql://offline@localhost/offline"


_GENERATED = frozenset({"Computed", "Identity", "search_computed"})


def _function(call: ast.Call) -> str | None:
    """A call's function name: ``Computed`` for ``sa.Computed(...)`` and for ``Computed(...)``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call_name(call)[1]


def _column_not_null_without_default(call: ast.Call) -> bool:
    column = next((a for a in call.args if isinstance(a, ast.Call)), None)
    if column is None:
        return False
    nullable = keyword(column, "nullable")
    primary = is_true(keyword(column, "primary_key"))
    not_null = (isinstance(nullable, ast.Constant) and nullable.value is False) or primary
    # A generated or identity column is filled on existing rows by the database itself.
    generated = any(isinstance(arg, ast.Call) and _function(arg) in _GENERATED for arg in column.args)
    return not_null and keyword(column, "server_default") is None and not generated


def lint_operations(path: Path) -> list[Finding]:
    """Lint the ``upgrade()`` of one revision file; accepted findings are left out.

    Dropping and renaming belong in a contract revision (``phase = "contract"``): there they are not reported
    here, and the phase gate checks that the models no longer map what is dropped.
    """
    source = path.read_text()
    tree = ast.parse(source, str(path))
    upgrade = upgrade_function(tree)
    if upgrade is None:
        return []
    allowed = markers(source)
    findings = [
        Finding(GATE, "marker-without-reason", "a schemakit allow comment needs a reason after --", str(path), m.line)
        for m in allowed
        if not m.reason
    ]
    contract = declared_phase(tree) == CONTRACT
    created: set[str] = set()
    for call, table, operation in operations(upgrade):
        problem = _problem(call, table, operation, created)
        if operation == "create_table" and table:
            created.add(table)
        if problem is None or (contract and problem[0] in _CONTRACT_RULES):
            continue
        rule, message = problem
        if not accepted(allowed, rule, annotating(source.splitlines(), call.lineno)):
            findings.append(Finding(GATE, rule, message, str(path), call.lineno))
    return findings


_Check = Callable[[ast.Call, str, bool], tuple[str, str] | None]


def _index(call: ast.Call, where: str, existing: bool) -> tuple[str, str] | None:
    if existing and not is_true(keyword(call, "postgresql_concurrently")):
        return "index-not-concurrent", (
            f"create_index {where} blocks writes while it builds; pass postgresql_concurrently=True "
            "(inside op.get_context().autocommit_block())"
        )
    return None


def _add_column(call: ast.Call, where: str, existing: bool) -> tuple[str, str] | None:
    if existing and _column_not_null_without_default(call):
        return "not-null-no-default", (
            f"add_column {where}: a NOT NULL column without server_default fails on existing rows; add it "
            "nullable, backfill, then set NOT NULL"
        )
    return None


def _constraint(call: ast.Call, where: str, existing: bool) -> tuple[str, str] | None:
    if existing and not is_true(keyword(call, "postgresql_not_valid")):
        return "constraint-not-valid", (
            f"the constraint {where} is checked against every row under lock; create it NOT VALID, then "
            "VALIDATE CONSTRAINT in a later step"
        )
    return None


def _alter_column(call: ast.Call, where: str, _existing: bool) -> tuple[str, str] | None:
    if keyword(call, "type_") is not None:
        return "column-type-change", f"alter_column(type_=...) {where} rewrites the table under an exclusive lock"
    if keyword(call, "new_column_name") is not None:
        return "rename", (
            f"renaming a column {where}: running code still uses the old name; op.expand_column, then "
            "op.contract_column in a contract revision"
        )
    return None


def _rename_table(_call: ast.Call, where: str, _existing: bool) -> tuple[str, str] | None:
    return "rename", f"rename_table {where}: running code still uses the old name"


def _drop(_call: ast.Call, where: str, _existing: bool) -> tuple[str, str] | None:
    return "drop", (
        f"dropping {where} breaks the code still running against it: deploy code that no longer uses it, then "
        'drop it in a revision declared phase = "contract"'
    )


# What a contract revision is for: the phase gate judges these there instead.
_CONTRACT_RULES = frozenset({"drop", "rename"})
_CONTRACT_SQUAWK_RULES = frozenset(
    {"ban-drop-column", "ban-drop-table", "ban-drop-function", "renaming-column", "renaming-table"}
)

_CHECKS: dict[str, _Check] = {
    "create_index": _index,
    "add_column": _add_column,
    "add_column_online": _add_column,
    "create_foreign_key": _constraint,
    "create_check_constraint": _constraint,
    "alter_column": _alter_column,
    "rename_table": _rename_table,
    "drop_column": _drop,
    "drop_column_online": _drop,
    "contract_column": _drop,
    "drop_table": _drop,
}


def _problem(call: ast.Call, table: str | None, operation: str, created: set[str]) -> tuple[str, str] | None:
    check = _CHECKS.get(operation)
    if check is None:
        return None
    return check(call, f"on {table}" if table else "on an existing table", table not in created)


class _RevisionScript:
    """One revision's offline SQL, with the revision file's line that wrote each piece of it."""

    def __init__(self, preamble: str) -> None:
        self.text = preamble
        self.revision: str | None = None
        self.origins: list[tuple[int, int | None]] = [(0, None)]

    def add(self, text: str, line: int | None) -> None:
        self.origins.append((self.text.count("\n"), line))
        self.text += text

    def python_line(self, sql_line: int) -> int | None:
        """The revision file's line that wrote SQL line ``sql_line`` (0-based), if a revision line did."""
        found = None
        for start, line in self.origins:
            if start > sql_line:
                break
            found = line
        return found


class _OfflineScripts(io.StringIO):
    """The offline SQL of one run from base to head, cut into one script per revision.

    Each revision runs in a transaction of its own, and Alembic calls ``on_version_apply`` (:meth:`step_done`)
    before writing its COMMIT; a revision's script is what comes from then on up to the next step's end. What
    precedes the first BEGIN (the migration timeouts) heads every script, so squawk reads each revision as
    if it were migrated alone, and a table created by an earlier revision is not mistaken for a new, empty one.

    Alembic writes a statement while the operation that makes it runs, so the revision file's frame on the
    stack at that moment is the operation's line: squawk's findings can point at it, and allow comments cover
    that operation alone.
    """

    def __init__(self, revision_files: Collection[str]) -> None:
        super().__init__()
        self.files = frozenset(revision_files)
        self.preamble = ""
        self.scripts: list[_RevisionScript] = []

    def write(self, text: str) -> int:
        statement = text.strip().upper()
        current = self.scripts[-1] if self.scripts else None
        if current is None and statement != "BEGIN;":
            self.preamble += text
        elif current is None or (current.revision is not None and statement != "COMMIT;"):
            self.scripts.append(_RevisionScript(self.preamble))
            self.scripts[-1].add(text, self._writer_line())
        else:
            current.add(text, self._writer_line())
        return len(text)

    def step_done(
        self, ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
    ) -> None:
        """Alembic's ``on_version_apply`` hook: the open script is this step's."""
        del ctx, heads, run_args
        if self.scripts:
            self.scripts[-1].revision = str(step.up_revision_id)

    def _writer_line(self) -> int | None:
        frame = inspect.currentframe()
        while frame is not None:
            if frame.f_code.co_filename in self.files:
                return frame.f_lineno
            frame = frame.f_back
        return None


def _offline_scripts(config: Config, revisions: list[Script]) -> dict[str, _RevisionScript]:
    # Each file as Python names it in its frames: the path Alembic loaded it from.
    buffer = _OfflineScripts([revision.path for revision in revisions])
    offline = with_options(config, settings=DatabaseSettings.for_url(_OFFLINE_URL), on_version_apply=[buffer.step_done])
    offline.output_buffer = buffer
    command.upgrade(offline, "heads", sql=True)
    return {script.revision: script for script in buffer.scripts if script.revision is not None}


def _squawk() -> str | None:
    beside_python = Path(sys.executable).parent / "squawk"
    return str(beside_python) if beside_python.exists() else shutil.which("squawk")


def squawk_findings(
    config: Config, *, only: Collection[str] | None = None, postgres_version: int = DEFAULT_POSTGRES_VERSION
) -> list[Finding]:
    """Run squawk over each revision's offline SQL, as if each revision were migrated alone.

    The whole history is rendered in one offline run and squawk is started once, for every revision's script.
    ``postgres_version`` is the major version squawk judges the SQL for (what locks what changed across
    versions); ``schemakit check`` passes its server's.

    Raises:
        FileNotFoundError: If squawk is not installed (``pip install schemakit[check]``).
    """
    return _squawk_findings(config, linear_history(ScriptDirectory.from_config(config)), only, postgres_version)


def _squawk_findings(
    config: Config, revisions: list[Script], only: Collection[str] | None, postgres_version: int
) -> list[Finding]:
    squawk = _squawk()
    if squawk is None:
        raise FileNotFoundError("squawk is not installed: pip install schemakit[check]")
    scripts = _offline_scripts(config, revisions)
    wanted = selected(revisions, only)
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="schemakit-squawk-") as folder:
        files = {}
        for number, revision in enumerate(wanted):
            sql_file = Path(folder) / f"{number:05}.sql"
            sql_file.write_text(scripts[revision.revision].text if revision.revision in scripts else "")
            files[str(sql_file)] = revision
        if not files:
            return findings
        arguments = ["--reporter", "json", "--pg-version", str(postgres_version)]
        arguments += ["--exclude", ",".join(SQUAWK_EXCLUDED_RULES)]
        output = subprocess.run([squawk, *arguments, *files], capture_output=True, text=True, check=False).stdout
    for item in json.loads(output or "[]"):
        revision = files[item["file"]]
        findings.extend(_squawk_finding(item, revision, scripts[revision.revision]))
    return findings


def _squawk_finding(item: dict[str, Any], revision: Script, script: _RevisionScript) -> list[Finding]:
    path = Path(revision.path).resolve()
    source = path.read_text()
    rule = item["rule_name"]
    line = script.python_line(item["line"]) or function_line(path, "upgrade")
    if accepted(markers(source), rule, annotating(source.splitlines(), line) if line else set()):
        return []
    lines = script.text.splitlines()
    statement = lines[item["line"]].strip() if item["line"] < len(lines) else ""
    if rule == "ban-drop-constraint" and _drops_its_own_constraint(statement, script.text):
        return []
    if rule in _CONTRACT_SQUAWK_RULES and revision_phase(revision) == CONTRACT:
        return []
    message = f"{item['message']} {item.get('help') or ''}".strip()
    return [Finding(GATE, rule, message, str(path), line, statement)]


_DROP_CONSTRAINT = re.compile(r'DROP CONSTRAINT (?:IF EXISTS )?("?)(?P<name>[\w$]+)\1', re.IGNORECASE)


def _drops_its_own_constraint(statement: str, script: str) -> bool:
    """Whether the statement drops a constraint its own revision added (set_not_null_online's temporary CHECK)."""
    match = _DROP_CONSTRAINT.search(statement)
    if match is None:
        return False
    name = re.escape(match["name"])
    return re.search(rf'ADD CONSTRAINT "?{name}"? ', script, re.IGNORECASE) is not None


def check_lock_safety(
    config: Config, *, only: Collection[str] | None = None, postgres_version: int = DEFAULT_POSTGRES_VERSION
) -> GateResult:
    """Run both linters over the project's revisions (those in ``only``, if given), for ``postgres_version``."""
    result = GateResult(GATE)
    revisions = linear_history(ScriptDirectory.from_config(config))
    for script in selected(revisions, only):
        result.findings.extend(lint_operations(Path(script.path).resolve()))
    try:
        result.findings.extend(_squawk_findings(config, revisions, only, postgres_version))
    except FileNotFoundError as exc:
        result.findings.append(Finding(GATE, "squawk-missing", str(exc)))
    return result
