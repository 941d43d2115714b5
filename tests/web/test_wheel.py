"""The wheel ships the page's templates, stylesheet and script (package data)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_holds_templates_and_static_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("quota_watch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    web = ROOT / "quota_watch" / "web"
    shipped = [
        p.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (web / folder).iterdir()
    ]
    assert shipped and set(shipped) <= names, sorted(set(shipped) - names)
