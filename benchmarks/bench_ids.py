"""Id generation: per-call cost, and how far the embedded time runs ahead of the clock.

schemakit.ids.uuid7() against uuid.uuid4(), uuid6.uuid7() and uuid_utils, per call; then, each in a fresh
process, the embedded time's drift from the clock after 1,000,000 ids made back to back.

    python -m benchmarks.bench_ids [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path

import uuid6
import uuid_utils
import uuid_utils.compat

from benchmarks.common import Measurement, header, save, table
from schemakit import ids

ROOT = Path(__file__).parent.parent
BASELINE = "uuid.uuid4()"


def per_call(generate: Callable[[], object], calls: int, repeats: int) -> list[float]:
    return [seconds / calls for seconds in timeit.repeat(generate, number=calls, repeat=repeats)]


DRIFT_PROGRAM = """
import sys, time
from importlib import import_module
target = sys.argv[1]
module, _, name = target.removesuffix("()").rpartition(".")
generate = getattr(import_module(module), name)
if target.endswith("()"):  # a generator class: one instance, as the module keeps one
    generate = generate()
made = [generate() for _ in range(int(sys.argv[2]))]
print((made[-1].int >> 80) - time.time_ns() // 1_000_000)
"""
DRIFT_TARGETS = {
    "schemakit uuid7() (selected)": "schemakit.ids.uuid7",
    "schemakit uuid7() (pure Python)": "schemakit.ids._CounterGenerator()",
    "uuid6.uuid7()": "uuid6.uuid7",
    "uuid_utils.compat.uuid7()": "uuid_utils.compat.uuid7",
}


def drift_ms(target: str, count: int) -> float:
    """Run in a fresh process, so that generators with state start from scratch."""
    done = subprocess.run(
        [sys.executable, "-c", DRIFT_PROGRAM, target, str(count)], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    arguments = parser.parse_args()
    calls, repeats, drift_count = (50_000, 5, 100_000) if arguments.quick else (200_000, 9, 1_000_000)
    title = "UUID generation, per call"
    print(header(title))
    print(f"schemakit.ids.uuid7 uses: {ids.UUID7_GENERATOR}")
    generators: dict[str, Callable[[], object]] = {
        BASELINE: uuid.uuid4,
        "schemakit uuid7() (selected)": ids.uuid7,
        "schemakit uuid7() (pure Python)": ids._CounterGenerator(),
        "uuid6.uuid7()": uuid6.uuid7,
        "uuid_utils.compat.uuid7()": uuid_utils.compat.uuid7,
        "uuid_utils.uuid7() (own type)": uuid_utils.uuid7,
    }
    measurements = [
        Measurement(name, per_call(make, calls, repeats), baseline=None if name == BASELINE else BASELINE)
        for name, make in generators.items()
    ]
    print(f"\n## Per call, median of {repeats} runs of {calls:,} calls\n{table(measurements, unit='ns', scale=1e9)}")
    drifts = {name: drift_ms(target, drift_count) for name, target in DRIFT_TARGETS.items()}
    print(f"\n## Embedded time minus the clock after {drift_count:,} ids made back to back (ms)")
    for name, drift in drifts.items():
        print(f"{name:<34} {drift:>12.1f}")
    for measurement in measurements:
        measurement.extra["drift_ms"] = drifts.get(measurement.name)
    path = save("ids", title, measurements, quick=arguments.quick, generator=ids.UUID7_GENERATOR)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
