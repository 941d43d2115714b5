"""A long config is parsed with tomli, a short one with tomllib: the choice never shows."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from quota_watch.config.errors import ConfigError
from quota_watch.config.files import COMPILED_TOML_CHARS, read_toml_text, toml_parser

ROOT = Path(__file__).resolve().parents[2]
# Comment lines after the document: the same data (and the same first error), a longer text.
PADDING = "\n" + "# padding to cross the compiled parser's threshold\n" * (
    COMPILED_TOML_CHARS // 40
)

MALFORMED = [
    "a = ",
    "a = 1\na = 2\n",
    "[accounts\nname = 'x'\n",
    'a = "\\q"\n',
    "a = 1979-05-27T07:32:00+25:00\n",
    "[[accounts]]\nname = 'x'\n[accounts]\n",
    "a = { b = 1, b = 2 }\n",
    "a = [1, 2,, 3]\n",
    "x = 0x\n",
    "s = '''unterminated\n",
]


def _read(tmp_path: Path, text: str) -> tuple[dict[str, object], str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return read_toml_text(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _read(tmp_path, text)
    return str(caught.value)


def test_the_parser_follows_the_length() -> None:
    assert toml_parser("a = 1").__name__ == "tomllib"
    assert toml_parser("a = 1" + PADDING).__name__ == "tomli"


def test_the_example_config_reads_the_same_with_both(tmp_path: Path) -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    # Whatever the example's length, the long read goes through tomli, compared to tomllib.
    assert toml_parser(text + PADDING).__name__ == "tomli"
    assert _read(tmp_path, text + PADDING)[0] == tomllib.loads(text)


@pytest.mark.parametrize("text", MALFORMED)
def test_a_syntax_error_reads_the_same_with_both(tmp_path: Path, text: str) -> None:
    short = _error(tmp_path, text)
    assert "line" in short or "end of document" in short
    if "end of document" not in short:  # padding moves the end of the document
        assert _error(tmp_path, text + PADDING) == short


@pytest.mark.parametrize("depth", [1_000, sys.getrecursionlimit() * 4])
def test_deep_nesting_is_refused_the_same_with_both(tmp_path: Path, depth: int) -> None:
    text = "a = " + "[" * depth + "]" * depth + "\n"
    short = _error(tmp_path, text)
    assert "nested too deeply" in short
    assert _error(tmp_path, text + PADDING) == short
