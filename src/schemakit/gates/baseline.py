"""Baselines: check only the revisions added after a git ref, so an existing project can adopt the gates."""

from __future__ import annotations

import subprocess
from pathlib import Path

from alembic.script import ScriptDirectory

from schemakit.errors import SchemakitError

__all__ = ["GitError", "added_since", "git"]


class GitError(SchemakitError):
    """git could not answer (not a repository, or an unknown ref)."""


def git(folder: Path, *arguments: str) -> str:
    """Run git in ``folder`` and return its output.

    Raises:
        GitError: If git fails; the message carries git's own.
    """
    try:
        done = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done.stdout


def added_since(script: ScriptDirectory, ref: str) -> frozenset[str]:
    """The revision files added after ``ref`` (committed since, or not committed yet), as absolute paths.

    Raises:
        GitError: If git cannot compare with ``ref``.
    """
    folder = Path(script.versions).resolve()
    top = Path(git(folder, "rev-parse", "--show-toplevel").strip())
    added = git(folder, "diff", "--name-only", "--diff-filter=A", ref, "--", ".").splitlines()
    untracked = git(folder, "ls-files", "--others", "--exclude-standard", "--full-name", "--", ".").splitlines()
    return frozenset(str((top / name).resolve()) for name in [*added, *untracked] if name.endswith(".py"))
