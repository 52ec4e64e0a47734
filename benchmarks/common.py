"""What every benchmark shares: timing, the header, the results file and the PostgreSQL server."""

from __future__ import annotations

import compileall
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import schemakit
from schemakit.provisioning import PostgresServer, provide_postgres

#: The logging sections of Alembic's own ini template, for the generated projects' alembic.ini files.
ALEMBIC_LOGGING = """
[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = %%(levelname)-5.5s [%%(name)s] %%(message)s
"""

#: Where a full run's results go; they are committed, so the figures in the docs can be traced to them.
RESULTS = Path(__file__).parent / "results"
#: Where ``--quick`` runs go (not committed), so a quick run never overwrites a full one.
QUICK_RESULTS = RESULTS / "quick"


@dataclass
class Measurement:
    """One benchmarked case: its samples (seconds) and what it is compared with."""

    name: str
    samples: list[float]
    baseline: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        """The median of the samples, in seconds."""
        return statistics.median(self.samples)


def pair_rounds(measurements: list[Measurement]) -> None:
    """Record, for each compared case, the median of its ratios to the baseline round by round.

    The two sides of a round run back to back, so a round's ratio is untouched by the machine slowing down or
    speeding up between rounds, which moves both medians.
    """
    by_name = {m.name: m for m in measurements}
    for m in measurements:
        if m.baseline:
            rounds = zip(m.samples, by_name[m.baseline].samples, strict=True)
            m.extra["paired_ratio"] = round(statistics.median(ours / theirs for ours, theirs in rounds), 3)


def repeat(action: Callable[[], Any], times: int, *, setup: Callable[[], Any] | None = None) -> list[float]:
    """Time ``action`` ``times`` times (after ``setup`` each time, untimed); return the durations."""
    durations = []
    for _ in range(times):
        if setup:
            setup()
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def timed(action: Callable[[], Any]) -> float:
    """The seconds ``action`` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def header(title: str, server: PostgresServer | None = None) -> str:
    """The machine, versions and database, printed above every table."""
    packages = ", ".join(f"{name} {version(name)}" for name in ("schemakit", "sqlalchemy", "alembic", "asyncpg"))
    lines = [
        f"# {title}",
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"packages: {packages}",
    ]
    if server is not None:
        lines.append(f"postgresql: {server.source}")
    return "\n".join(lines)


def table(measurements: list[Measurement], unit: str = "ms", scale: float = 1000.0) -> str:
    """Medians, and each one's ratio to its baseline."""
    by_name = {m.name: m for m in measurements}
    width = max(len(m.name) for m in measurements)
    lines = [f"{'case':<{width}}  {'median ' + unit:>12}  {'runs':>5}  ratio"]
    for m in measurements:
        ratio = f"{m.median / by_name[m.baseline].median:.2f}x {m.baseline}" if m.baseline else "baseline"
        lines.append(f"{m.name:<{width}}  {m.median * scale:>12.3f}  {len(m.samples):>5}  {ratio}")
    return "\n".join(lines)


def results_folder(*, quick: bool) -> Path:
    """The folder for a run's results: :data:`QUICK_RESULTS` for a quick run, else :data:`RESULTS`."""
    folder = QUICK_RESULTS if quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(name: str, title: str, measurements: list[Measurement], *, quick: bool, **context: Any) -> Path:
    """Write the measurements as JSON to ``<name>.json`` in :func:`results_folder`."""
    path = results_folder(quick=quick) / f"{name}.json"
    context["quick"] = quick
    data = {
        "title": title,
        "context": context,
        "measurements": [{**asdict(m), "median": m.median} for m in measurements],
    }
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


@contextmanager
def postgres() -> Iterator[PostgresServer]:
    """The benchmark's server: TEST_DATABASE_URL, else a throwaway cluster.

    Every benchmark starts here, so this is also where schemakit's bytecode is compiled, as installing its wheel
    does. This checkout is an editable install: where ``PYTHONDONTWRITEBYTECODE`` is set, each fresh process the
    benchmarks start (an ``alembic`` command, ``schemakit check``, a worker) would compile every schemakit
    module it imports, a cost a user of the wheel never pays and a plain baseline never shows.
    """
    compileall.compile_dir(Path(schemakit.__file__).parent, quiet=1)
    with provide_postgres() as server:
        yield server


def merge_into(name: str, path: Path, headline: dict[str, Any], measurements: list[Measurement]) -> Path:
    """Add a section's headline figures and measurements to another benchmark's results file ``<name>.json``.

    ``bench_scale``'s results gather several scripts' figures; each script keeps its own file at ``path`` too.
    """
    target = path.parent / f"{name}.json"
    data = json.loads(target.read_text()) if target.exists() else {"title": name, "context": {}, "measurements": []}
    names = {m.name for m in measurements}
    data["context"].update(headline)
    data["measurements"] = [m for m in data["measurements"] if m["name"] not in names] + [
        {**asdict(m), "median": m.median} for m in measurements
    ]
    data.update(headline)
    first = [key for key in data if key not in ("title", "context", "measurements")]
    ordered = {key: data[key] for key in first} | {key: data[key] for key in ("title", "context", "measurements")}
    target.write_text(json.dumps(ordered, indent=2, default=str))
    return target
