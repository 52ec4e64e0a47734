"""schemakit init writes what is missing, never overwrites, and says what is left to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemakit.project import ProjectConfig, ProjectConfigError
from schemakit.scaffold import init_project


def test_an_empty_folder_gets_everything_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    first = init_project(tmp_path, models="shop.models")
    assert {"alembic.ini", "alembic/env.py", "alembic/script.py.mako", "conftest.py", ".env.example"} <= set(
        first.created
    )
    assert 'models_metadata("shop.models")' in (tmp_path / "alembic" / "env.py").read_text()
    ini = (tmp_path / "alembic.ini").read_text()
    assert "timezone = UTC" in ini
    assert "%%(year)d%%(month).2d%%(day).2d%%(hour).2d%%(minute).2d%%(second).2d_%%(slug)s" in ini
    assert '[tool.schemakit]\nmodels = "shop.models"' in (tmp_path / "pyproject.toml").read_text()
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    second = init_project(tmp_path, models="shop.models")
    assert second.created == []
    assert second.to_do == []
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


def test_existing_files_are_left_alone_and_what_they_lack_is_reported(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("import os\n")
    (tmp_path / ".env.example").write_text("SECRET_KEY=x\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n')
    report = init_project(tmp_path, models="shop.models")
    assert (tmp_path / "conftest.py").read_text() == "import os\n"
    assert (tmp_path / ".env.example").read_text() == "SECRET_KEY=x\n"
    assert "[tool.schemakit]" not in (tmp_path / "pyproject.toml").read_text()
    to_do = "\n".join(report.to_do)
    assert 'conftest.py: add pytest_plugins = ["schemakit.testing.plugin"]' in to_do
    assert ".env.example: add DATABASE_URL=" in to_do
    assert "pyproject.toml: make sure it has these settings" in to_do
    assert 'asyncio_mode = "auto"' in to_do


def test_the_models_module_comes_from_the_option_then_the_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.schemakit]\nmodels = "shop.models"\n')
    project = ProjectConfig.load(tmp_path)
    assert project.models_module("other.models") == "other.models"
    assert project.models_module(None) == "shop.models"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ProjectConfigError, match="pass --models or set"):
        ProjectConfig.load(tmp_path).models_module(None)
