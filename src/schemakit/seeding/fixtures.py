"""Fixture files: one model each, in JSON, YAML or Python.

A data file holds an object with the model's class name, its natural key and its rows::

    {
      "model": "Order",
      "key": ["number"],
      "rows": [
        {"number": "SO-1001", "user": "ada@example.test", "status": "paid", "total": "36.50"}
      ]
    }

* ``key`` names the columns (or many-to-one relationships) that identify a row. They must be covered by a
  UNIQUE constraint or unique index of the table: that is what makes loading idempotent.
* A row's fields are column attributes, or many-to-one relationships whose value is the referenced row's
  natural key: a plain value when that key has one field, else an object (``{"order": "SO-1001", ...}``).
* YAML files (``.yaml``/``.yml``) have the same shape and need PyYAML (``pip install schemakit[yaml]``).
* A Python file (``.py``) defines ``fixture = Fixture(...)``, for rows that are easier computed than typed.

:func:`load_fixtures` reads every fixture file in a folder, in name order; the loader orders models by their
foreign keys, so the file order does not matter.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemakit.errors import SchemakitError

__all__ = ["FIXTURE_SUFFIXES", "Fixture", "FixtureError", "load_fixture_file", "load_fixtures"]

#: The file name endings read as fixtures.
FIXTURE_SUFFIXES = (".json", ".yaml", ".yml", ".py")


class FixtureError(SchemakitError):
    """A fixture is malformed or does not fit the models; the message names the file and row."""


@dataclass(frozen=True)
class Fixture:
    """The rows of one model.

    Attributes:
        model: The mapped class's name.
        key: The natural key: column attribute or many-to-one relationship names.
        rows: The rows, as mappings of field name to value.
        source: Where the rows come from, for messages (a file path).
    """

    model: str
    key: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]] = field(repr=False)
    source: str = "<python>"

    def __post_init__(self) -> None:
        if not self.key:
            raise FixtureError(f"{self.source}: the fixture for {self.model} names no natural key")
        object.__setattr__(self, "key", tuple(self.key))


def load_fixture_file(path: str | Path) -> Fixture:
    """Read one fixture file.

    Args:
        path: A ``.json``, ``.yaml``, ``.yml`` or ``.py`` file.

    Returns:
        The fixture.

    Raises:
        FixtureError: If the file cannot be read or does not have the fixture shape.
    """
    path = Path(path)
    if path.suffix == ".py":
        return _load_python(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = _parse_yaml(text, path) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path}: cannot read the fixture: {exc}") from exc
    return _from_mapping(data, str(path))


def load_fixtures(folder: str | Path) -> list[Fixture]:
    """Read every fixture file in ``folder`` (not its subfolders), in name order.

    Raises:
        FixtureError: If the folder does not exist or a file is malformed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FixtureError(f"{folder}: no such fixture folder")
    files = sorted(p for p in folder.iterdir() if p.suffix in FIXTURE_SUFFIXES and not p.name.startswith("_"))
    return [load_fixture_file(path) for path in files]


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        import yaml  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise FixtureError(f"{path}: reading YAML fixtures needs PyYAML: pip install schemakit[yaml]") from None
    return yaml.safe_load(text)


def _from_mapping(data: Any, source: str) -> Fixture:
    if not isinstance(data, Mapping):
        raise FixtureError(f"{source}: a fixture file holds an object with 'model', 'key' and 'rows'")
    missing = [name for name in ("model", "key", "rows") if name not in data]
    if missing:
        raise FixtureError(f"{source}: missing {', '.join(repr(name) for name in missing)}")
    key = [data["key"]] if isinstance(data["key"], str) else data["key"]
    rows = data["rows"]
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise FixtureError(f"{source}: 'rows' must be a list of objects")
    return Fixture(model=str(data["model"]), key=tuple(str(part) for part in key), rows=rows, source=source)


def _load_python(path: Path) -> Fixture:
    spec = importlib.util.spec_from_file_location(f"schemakit_fixture_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FixtureError(f"{path}: cannot import the fixture module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FixtureError(f"{path}: importing the fixture module failed: {exc!r}") from exc
    fixture = getattr(module, "fixture", None)
    if not isinstance(fixture, Fixture):
        raise FixtureError(f"{path}: a Python fixture defines `fixture = Fixture(...)`")
    return Fixture(fixture.model, fixture.key, fixture.rows, source=str(path))
