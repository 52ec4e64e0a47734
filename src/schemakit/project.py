"""A project's schemakit settings, from ``[tool.schemakit]`` in its ``pyproject.toml``.

::

    [tool.schemakit]
    models = "library_app.models"      # the module that defines (or imports) every model
    fixtures = "fixtures"              # the seed fixtures' folder, relative to pyproject.toml
    alembic_ini = "alembic.ini"        # relative to pyproject.toml

``schemakit seed`` reads it (``schemakit init`` writes it); command-line options override each key.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sqlalchemy import MetaData
from sqlalchemy.orm import registry

from schemakit.errors import SchemakitError

__all__ = ["ProjectConfig", "ProjectConfigError", "find_pyproject", "models_metadata", "models_registry"]


class ProjectConfigError(SchemakitError):
    """The project's configuration is missing, unreadable or names something that is not there."""


@dataclass(frozen=True)
class ProjectConfig:
    """What ``[tool.schemakit]`` says, with paths made absolute.

    Attributes:
        root: The folder of ``pyproject.toml`` (or the working directory when there is none).
        models: The import path of the models module, if given.
        fixtures: The seed fixtures' folder.
        alembic_ini: The project's ``alembic.ini``.
    """

    root: Path
    models: str | None
    fixtures: Path
    alembic_ini: Path

    @classmethod
    def load(cls, start: Path | None = None) -> ProjectConfig:
        """Read the nearest ``pyproject.toml`` at or above ``start`` (the working directory by default).

        Raises:
            ProjectConfigError: If the file cannot be read or a key has the wrong type.
        """
        here = (start or Path.cwd()).resolve()
        path = find_pyproject(here)
        table: dict[str, object] = {}
        if path is not None:
            try:
                document = tomllib.loads(path.read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ProjectConfigError(f"cannot read {path}: {exc}") from None
            table = document.get("tool", {}).get("schemakit", {})
        root = path.parent if path is not None else here
        for key, value in table.items():
            if not isinstance(value, str):
                raise ProjectConfigError(f"{path}: [tool.schemakit] {key} must be a string, not {value!r}")
        models = table.get("models")
        return cls(
            root=root,
            models=str(models) if models else None,
            fixtures=root / str(table.get("fixtures", "fixtures")),
            alembic_ini=root / str(table.get("alembic_ini", "alembic.ini")),
        )

    def models_module(self, given: str | None) -> str:
        """The models module: ``given`` (a command-line option) if any, else ``[tool.schemakit] models``.

        Raises:
            ProjectConfigError: If neither names one.
        """
        models = given or self.models
        if not models:
            raise ProjectConfigError("no models module: pass --models or set [tool.schemakit] models")
        return models


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def models_registry(module_name: str, root: Path | None = None) -> registry:
    """Import the models module and return the registry its models are mapped in.

    Args:
        module_name: The module's import path (``library_app.models``).
        root: Put on ``sys.path`` first, so the project's own packages import without being installed.

    Raises:
        ProjectConfigError: If the module cannot be imported, or maps no model, or models of several registries.
    """
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProjectConfigError(f"cannot import the models module {module_name!r}: {exc}") from None
    registries = _registries(module)
    if len(registries) != 1:
        found = "no mapped model" if not registries else f"models of {len(registries)} declarative bases"
        raise ProjectConfigError(f"the models module {module_name!r} holds {found}; name a module of one base")
    return registries.pop()


def models_metadata(module_name: str, root: Path | None = None) -> MetaData:
    """The metadata of the models in ``module_name`` (see :func:`models_registry`); for ``env.py``.

    Raises:
        ProjectConfigError: As :func:`models_registry`.
    """
    return models_registry(module_name, root).metadata


def _registries(module: ModuleType) -> list[registry]:
    found: list[registry] = []
    for value in vars(module).values():
        mapper = getattr(value, "__mapper__", None) if isinstance(value, type) else None
        if mapper is not None and mapper.registry not in found:
            found.append(mapper.registry)
    return found
