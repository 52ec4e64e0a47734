"""The schema documentation as Markdown: a Mermaid ER diagram (drawn by paracelsus), then every table.

paracelsus draws the diagram from a :class:`~sqlalchemy.MetaData`; it is handed one rebuilt from the
:class:`~schemakit.schema_docs.model.TableDoc` records, whose column types are the names the document uses
(spaces made underscores, which Mermaid needs), so the diagram from a database is the diagram from the models.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, MetaData, Table
from sqlalchemy.types import UserDefinedType

from schemakit.errors import SchemakitError
from schemakit.schema_docs.model import TableDoc

__all__ = ["HEADER", "render"]

#: The document's first lines, naming the command that writes it.
HEADER = (
    "# Schema\n\n"
    "<!-- Written by `schemakit docs` from the models; `schemakit docs --check` fails when it is stale. "
    "Do not edit. -->\n"
)


class _Spelled(UserDefinedType[Any]):
    """A column type that prints as the name the document gives it."""

    cache_ok = True

    def __init__(self, spelled: str) -> None:
        self.spelled = spelled

    def get_col_spec(self, **_kw: Any) -> str:
        return self.spelled


def _diagram(tables: list[TableDoc]) -> str:
    try:
        from paracelsus.transformers.mermaid import Mermaid  # noqa: PLC0415 - an optional dependency
    except ImportError:
        raise SchemakitError("the ER diagram needs paracelsus: pip install 'schemakit[docs]'") from None
    metadata = MetaData()
    for table in tables:
        unique = {c.columns[0] for c in table.constraints if c.kind == "unique" and len(c.columns) == 1}
        columns = [
            Column(
                column.name,
                _Spelled(column.type.replace(", ", ",").replace(" ", "_")),
                *[ForeignKey(target) for target in (column.references or "").split(", ") if target],
                primary_key=column.primary_key,
                nullable=column.nullable,
                unique=column.name in unique,
            )
            for column in table.columns
        ]
        Table(table.name, metadata, *columns)
    return str(Mermaid(metadata, column_sort="preserve-order", omit_comments=True)).strip()


def _cell(value: object) -> str:
    return "" if value in (None, "", ()) else str(value).replace("|", "\\|").replace("\n", " ")


def _table(table: TableDoc) -> list[str]:
    lines = [f"### `{table.name}`", ""]
    if table.comment:
        lines += [table.comment, ""]
    if table.marks:
        lines += [f"*{', '.join(table.marks).capitalize()}.*", ""]
    lines += ["| column | type | null | default | values | comment |", "| --- | --- | --- | --- | --- | --- |"]
    for column in table.columns:
        name = f"**{column.name}**" if column.primary_key else column.name
        cells = [
            name,
            column.type,
            "yes" if column.nullable else "no",
            column.default,
            ", ".join(column.values),
            column.comment,
        ]
        lines.append("| " + " | ".join(map(_cell, cells)) + " |")
    lines += ["", "| constraint | kind | columns | detail |", "| --- | --- | --- | --- |"]
    lines += [
        "| " + " | ".join(map(_cell, (c.name, c.kind, ", ".join(c.columns), c.detail))) + " |"
        for c in table.constraints
    ]
    if table.indexes:
        lines += ["", "| index | columns | unique | where |", "| --- | --- | --- | --- |"]
        lines += [
            "| " + " | ".join(map(_cell, (i.name, ", ".join(i.columns), "yes" if i.unique else "no", i.where))) + " |"
            for i in table.indexes
        ]
    return [*lines, ""]


def render(tables: list[TableDoc]) -> str:
    """The document: the header, the ER diagram and each table's columns, constraints and indexes."""
    lines = [HEADER, "## Diagram", "", "```mermaid", _diagram(tables), "```", "", "## Tables", ""]
    for table in tables:
        lines += _table(table)
    return "\n".join(lines).rstrip() + "\n"
