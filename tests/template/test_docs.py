import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent


def test_the_readme_quickstart_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None
    script = tmp_path / "quickstart.py"
    script.write_text(code.group(1))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "7 1 alice True",
        "[]",
        "['MUG-001']",
        "Product is at version 2, but the client expected version 1",
    ]
    assert (tmp_path / "app.db").exists()


def run_demo(folder: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def test_the_demo_runs_twice_on_a_fresh_database(tmp_path: Path) -> None:
    outputs = []
    for _ in range(2):
        result = run_demo(tmp_path, env={**os.environ, "APP_ENV": "development"})
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "total            18        0          0" in outputs[0]
    assert "total             0        0         18" in outputs[1]
    assert "has 3 order(s)" in outputs[0]  # two seeded, one written by the demo
    assert "has 4 order(s)" in outputs[1]
    for output in outputs:
        assert "the catalogue shows ['BAG-004', 'MUG-001', 'NTB-006', 'PEN-005', 'TEE-002']" in output
        assert "Version conflict caught" in output


def test_the_demo_refuses_production(tmp_path: Path) -> None:
    result = run_demo(tmp_path, env={**os.environ, "APP_ENV": "production"})
    assert result.returncode == 1
    assert "Refusing to seed sqlite:///./app.db:\n  - APP_ENV is production, not development or test" in result.stderr
    assert not (tmp_path / "app.db").exists()


FIGURE = re.compile(r"\b\d+(?:\.\d+)?(?:x| ms| %| ns)")


def test_benchmark_figures_quoted_elsewhere_are_those_of_the_benchmarks_page() -> None:
    docs = (ROOT / "docs" / "benchmarks.md").read_text()
    pages = [ROOT / "README.md", *(page for page in (ROOT / "docs").glob("*.md") if page.name != "benchmarks.md")]
    quoted = [line for page in pages for line in page.read_text().splitlines() if FIGURE.search(line)]
    figures = {figure for line in quoted for figure in FIGURE.findall(line)}
    assert figures, "the README quotes no benchmark figure"
    assert sorted(figure for figure in figures if figure not in docs) == []


def test_the_costs_file_holds_the_figures_the_benchmarks_page_quotes() -> None:
    costs = json.loads((ROOT / "benchmarks" / "results" / "costs.json").read_text())
    assert set(costs["check_seconds"]) == {"10", "50", "100", "200"}
    for key in (
        "check_vs_pytest_alembic_200",
        "versioned_update_ratio",
        "lookup_ratio",
        "env_ratio_200",
        "seed_vs_copy",
    ):
        assert isinstance(costs[key], float), key
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for key in ("check_vs_pytest_alembic_200", "seed_vs_copy"):
        assert f"{costs[key]:.2f}x" in page, key
    assert f"{costs['versioned_update_ratio_by_driver']['psycopg']:.2f}x" in page


def test_the_online_results_hold_every_change_in_both_modes_and_the_page_quotes_them() -> None:
    results = json.loads((ROOT / "benchmarks" / "results" / "online.json").read_text())
    changes = [r for r in results if r.get("mode") in ("plain", "online")]
    keys = {"change", "mode", "failed_queries", "worst_stall_ms", "p99_ms", "duration_s"}
    assert all(keys <= set(r) for r in changes)
    assert {(r["change"], r["mode"]) for r in changes} >= {
        (change, mode)
        for change in ("add_column_backfill", "set_not_null", "foreign_key", "index", "unique", "rename")
        for mode in ("plain", "online")
    }
    (resume,) = [r for r in results if r["change"] == "resume_after_kill"]
    assert isinstance(resume["rows_updated_twice"], int)
    assert isinstance(resume["final_matches"], bool)
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for r in changes:
        assert f"| {r['change']} | {r['mode']} | {r['failed_queries']} | {r['worst_stall_ms']:.0f} |" in page, r
