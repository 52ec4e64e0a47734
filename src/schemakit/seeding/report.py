"""What loading did: a :class:`SeedReport` of one :class:`ModelReport` a model, and the :data:`Progress` hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["ModelReport", "Progress", "SeedMode", "SeedReport"]

#: Called as ``progress(model, rows_done, rows_total)`` after each batch of rows.
Progress = Callable[[str, int, int], None]


class SeedMode(StrEnum):
    """Whether loading may change rows that already exist."""

    CREATE_ONLY = "create-only"
    CONVERGE = "converge"


@dataclass
class ModelReport:
    """What loading did to one model's rows."""

    model: str
    source: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class SeedReport:
    """What loading did, model by model."""

    mode: SeedMode
    dry_run: bool
    models: list[ModelReport] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        """Rows inserted, over all models."""
        return sum(model.inserted for model in self.models)

    @property
    def updated(self) -> int:
        """Rows updated, over all models."""
        return sum(model.updated for model in self.models)

    @property
    def unchanged(self) -> int:
        """Rows left as they were, over all models."""
        return sum(model.unchanged for model in self.models)

    def format(self) -> str:
        """The report as a small text table."""
        width = max([len("model"), *(len(model.model) for model in self.models)])
        lines = [f"{'model':<{width}}  inserted  updated  unchanged"]
        lines += [
            f"{m.model:<{width}}  {m.inserted:>8}  {m.updated:>7}  {m.unchanged:>9}  ({Path(m.source).name})"
            for m in self.models
        ]
        lines.append(f"{'total':<{width}}  {self.inserted:>8}  {self.updated:>7}  {self.unchanged:>9}")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return "\n".join(lines)
