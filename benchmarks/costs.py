"""The costs that grow with the work, in one file: ``benchmarks/results/costs.json``.

Read from the results the other benchmarks wrote in the same ``make bench`` (or ``make bench-quick``) run:
``bench_check``, ``bench_mixins``, ``bench_migrations`` and ``bench_seed``. Each ratio is the benchmark's own,
measured with its baseline in one run. Where a goal covers several cases, the headline figure is the worst.

    python -m benchmarks.costs [--quick]
"""

from __future__ import annotations

import argparse
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from benchmarks.bench_migrations import beyond_pydantic_settings
from benchmarks.common import results_folder

ROOT = Path(__file__).parent.parent


def _measurements(folder: Path, name: str) -> dict[str, dict[str, Any]]:
    path = folder / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path.relative_to(ROOT)} is missing: run benchmarks.bench_{name} first")
    return {m["name"]: m for m in json.loads(path.read_text())["measurements"]}


def _ratio(measurements: dict[str, dict[str, Any]], measurement: dict[str, Any]) -> float:
    # Four places: a figure rounded to three and then to two for the page can differ from the bench's own.
    return round(measurement["median"] / measurements[measurement["baseline"]]["median"], 4)


def costs(folder: Path) -> dict[str, Any]:
    """The figures, from the results in ``folder``."""
    check = _measurements(folder, "check")
    ours = {m["extra"]["revisions"]: m for m in check.values() if m["baseline"]}
    largest = max(ours)
    check_seconds = {str(size): round(m["median"], 3) for size, m in sorted(ours.items())}
    sizes = sorted(ours)
    per_revision = {
        f"{low}-{high}": round((ours[high]["median"] - ours[low]["median"]) / (high - low), 4)
        for low, high in pairwise(sizes)
    }

    mixins = _measurements(folder, "mixins")
    updates = {
        m["extra"]["driver"]: _ratio(mixins, m) for m in mixins.values() if m["baseline"] and "driver" in m["extra"]
    }
    paired = {
        m["extra"]["driver"]: m["extra"]["paired_ratio"]
        for m in mixins.values()
        if m["baseline"] and "paired_ratio" in m["extra"] and "driver" in m["extra"]
    }
    lookups = {name: m for name, m in mixins.items() if "lookups by id" in name}
    plain_beside = next(m for name, m in lookups.items() if name.endswith("schemakit's models mapped"))
    plain_alone = mixins[mixins[plain_beside["baseline"]]["baseline"]]
    filtered = next(m for name, m in lookups.items() if "soft-delete filter" in name)

    migrations = _measurements(folder, "migrations")
    env = {
        f"{m['extra']['revisions']} revisions, {m['extra']['way']}": _ratio(migrations, m)
        for m in migrations.values()
        if m["baseline"]
    }
    env_largest = max(int(key.split()[0]) for key in env)
    beyond = beyond_pydantic_settings((m["extra"], m["median"]) for m in migrations.values())

    seed = _measurements(folder, "seed")
    seeded = {m["extra"]["rows"]: m for m in seed.values() if m["baseline"]}
    shares = {rows: round(seed[m["baseline"]]["median"] / m["median"], 4) for rows, m in seeded.items()}
    reference_rows = 100_000 if 100_000 in shares else max(shares)
    return {
        "check_seconds": check_seconds,
        "check_seconds_per_added_revision": per_revision,
        f"check_vs_pytest_alembic_{largest}": _ratio(check, ours[largest]),
        "versioned_update_ratio": max(updates.values()),
        "versioned_update_ratio_by_driver": updates,
        "versioned_update_round_ratio_by_driver": paired,
        "lookup_ratio": _ratio(mixins, plain_beside),
        "lookup_ratio_across_processes": round(plain_beside["median"] / plain_alone["median"], 4),
        "soft_delete_filter_vs_hand_written": _ratio(mixins, filtered),
        f"env_ratio_{env_largest}": max(ratio for key, ratio in env.items() if key.startswith(f"{env_largest} ")),
        "env_ratios": env,
        "env_ratios_vs_pydantic_settings_env": {f"{size} revisions, alembic command": r for size, r in beyond.items()},
        "seed_vs_copy": shares[reference_rows],
        "seed_vs_copy_rows": reference_rows,
        "seed_rows_per_second": {str(rows): round(rows / m["median"]) for rows, m in sorted(seeded.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="read the quick runs' results")
    arguments = parser.parse_args()
    folder = results_folder(quick=arguments.quick)
    figures = costs(folder)
    path = folder / "costs.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
