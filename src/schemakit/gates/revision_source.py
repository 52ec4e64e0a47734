"""Reading a revision file's source: its ``op.<x>(...)`` calls in order, its declared phase, its allow comments.

The lock-safety and phase gates read revisions this way, without running them, so a finding can name the
line of the ``.py`` file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from schemakit.migrations.phases import EXPAND

__all__ = [
    "MARKER",
    "Marker",
    "accepted",
    "annotating",
    "declared_phase",
    "is_true",
    "keyword",
    "markers",
    "operations",
    "string",
    "upgrade_function",
]

#: The comment that accepts a finding: ``# schemakit: allow <rule>[, <rule>] -- <reason>``.
MARKER = re.compile(r"#\s*schemakit:\s*allow\s+(?P<rules>[\w\-, ]+?)\s*(?:--\s*(?P<reason>\S.*))?$")


@dataclass(frozen=True)
class Marker:
    """An allow comment: its line, the rules it names and its reason."""

    line: int
    rules: frozenset[str]
    reason: str | None


def markers(source: str) -> list[Marker]:
    """The allow comments of a revision's source."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            rules = frozenset(rule.strip() for rule in match["rules"].split(",") if rule.strip())
            found.append(Marker(number, rules, match["reason"]))
    return found


def accepted(markers: list[Marker], rule: str, lines: Collection[int]) -> bool:
    """Whether a comment with a reason on one of ``lines`` allows ``rule``."""
    return any(rule in marker.rules and marker.reason and marker.line in lines for marker in markers)


def annotating(source_lines: list[str], line: int) -> set[int]:
    """The lines whose notes cover the statement at ``line`` (1-based): its own, and the comments just above."""
    lines = {line}
    above = line - 1
    while above >= 1 and source_lines[above - 1].lstrip().startswith("#"):
        lines.add(above)
        above -= 1
    return lines


def call_name(node: ast.Call) -> tuple[str | None, str | None]:
    function = node.func
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
        return function.value.id, function.attr
    return None, None


def keyword(node: ast.Call, name: str) -> ast.expr | None:
    """The value of a call's keyword argument."""
    return next((keyword.value for keyword in node.keywords if keyword.arg == name), None)


def is_true(node: ast.expr | None) -> bool:
    """Whether the node is the constant ``True``."""
    return isinstance(node, ast.Constant) and node.value is True


def string(node: ast.expr | None) -> str | None:
    """The node's value if it is a string constant."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def table_argument(node: ast.Call, position: int) -> str | None:
    if len(node.args) > position:
        return string(node.args[position])
    return string(keyword(node, "table_name"))


# Operations whose first argument is a constraint's or an index's name, and their table the second.
_TABLE_SECOND = frozenset(
    {"create_index", "create_foreign_key", "create_check_constraint", "create_unique_constraint", "drop_constraint"}
)


def operations(function: ast.FunctionDef) -> Iterator[tuple[ast.Call, str | None, str]]:
    """Each ``op.<x>(...)`` / ``batch_op.<x>(...)`` call with the table it acts on, in order."""
    batch_tables: dict[str, str | None] = {}
    for node in ast.walk(function):
        for item in node.items if isinstance(node, ast.With) else ():
            call = item.context_expr
            is_batch = isinstance(call, ast.Call) and call_name(call)[1] == "batch_alter_table"
            if is_batch and isinstance(item.optional_vars, ast.Name) and isinstance(call, ast.Call):
                batch_tables[item.optional_vars.id] = table_argument(call, 0)
    calls = sorted((n for n in ast.walk(function) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for call in calls:
        receiver, operation = call_name(call)
        if receiver in batch_tables and operation:
            yield call, batch_tables[receiver], operation
        elif receiver == "op" and operation:
            position = 1 if operation.removesuffix("_online") in _TABLE_SECOND else 0
            yield call, table_argument(call, position), operation


def upgrade_function(tree: ast.Module) -> ast.FunctionDef | None:
    """The revision's ``upgrade()``."""
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)


def declared_phase(tree: ast.Module) -> str:
    """The phase a revision declares at module level (``phase = "contract"``), ``"expand"`` if none."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [target] if target is not None else []
        value = string(node.value) if isinstance(node, ast.Assign | ast.AnnAssign) and node.value else None
        if any(isinstance(t, ast.Name) and t.id == "phase" for t in targets) and value is not None:
            return value
    return EXPAND
