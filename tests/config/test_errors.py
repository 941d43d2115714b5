"""TOML paths and human, secret-free renderings of pydantic validation errors."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from quota_watch.config.errors import (
    ConfigError,
    format_validation_error,
    is_secret_name,
    toml_path,
)


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("accounts", 1, "options", "x"), "accounts[1].options.x"),
        (("accounts", 2, "options", "account_id"), "accounts[2].options.account_id"),
        (("server", "listen"), "server.listen"),
        (("notifiers", 0), "notifiers[0]"),
        (("rules", 3, "match", "provider"), "rules[3].match.provider"),
        (("matrix", 0, 1), "matrix[0][1]"),
        (("limits", "disk used", "cap"), 'limits."disk used".cap'),
        (("limits", 'a"b'), 'limits."a\\"b"'),
        (("headers", "X-Api-Key"), "headers.X-Api-Key"),
        (("x.y",), '"x.y"'),
        (("",), '""'),
        ((), ""),
    ],
)
def test_toml_path(loc: tuple[str | int, ...], expected: str) -> None:
    """Keys join with dots, indexes in brackets, keys that are not bare are quoted."""
    assert toml_path(loc) == expected


class Inner(BaseModel):
    """A nested table."""

    model_config = ConfigDict(extra="forbid")

    api_token: SecretStr
    password: str = Field(min_length=8)
    region: Literal["eu", "us"] = "eu"
    port: int = 0

    @field_validator("password")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError(f"{value!r} must not contain spaces")
        return value


def _even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


class Outer(BaseModel):
    """A document with nested tables and arrays."""

    model_config = ConfigDict(extra="forbid")

    name: str
    size: Annotated[int, AfterValidator(_even)] = 0
    inner: list[Inner] = []
    table: Inner | None = None
    mapping: dict[Annotated[str, Field(pattern=r"^[a-z]+$")], int] = {}


def errors_of(
    data: object, prefix: tuple[str | int, ...] = (), secret_keys: frozenset[str] = frozenset()
) -> list[str]:
    """The formatted errors of validating `data` as Outer."""
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(data)
    return format_validation_error(caught.value, prefix, secret_keys=secret_keys)


def test_one_line_per_error_with_path() -> None:
    """Each error is one "<path>: <message>" line, in a human wording."""
    lines = errors_of(
        {"inner": [{"api_token": "t0k3n-value", "password": "longenough"}, {}], "x": 1}
    )
    assert lines == [
        "name: required key is missing",
        "inner[1].api_token: required key is missing",
        "inner[1].password: required key is missing",
        "x: unknown key",
    ]


def test_prefix_is_prepended() -> None:
    """A prefix places the errors inside a larger document."""
    assert errors_of({"name": "n", "size": 3}, ("accounts", 2, "options")) == [
        "accounts[2].options.size: 3 is odd"
    ]


def test_value_error_prefix_stripped_and_input_shown() -> None:
    """Validators' messages lose pydantic's prefix; built-in ones show the offending input."""
    lines = errors_of(
        {
            "name": "n",
            "size": 5,
            "table": {
                "api_token": "x",
                "password": "longenough",
                "region": "mars",
                "port": "eighty",
            },
        }
    )
    assert lines == [
        "size: 5 is odd",
        "table.region: must be 'eu' or 'us' (got 'mars')",
        "table.port: must be a valid integer, unable to parse string as an integer (got 'eighty')",
    ]
    assert not any("Value error" in line or "Input should" in line for line in lines)


def test_long_inputs_are_shortened() -> None:
    """Inputs are echoed in at most 40 characters."""
    (line,) = errors_of(
        {"name": "n", "table": {"api_token": "x", "password": "longenough", "region": "x" * 500}}
    )
    shown = line.split("(got ", 1)[1].rstrip(")")
    assert len(shown) <= 40
    assert shown.endswith("…")


def test_tables_and_arrays_named_in_toml_words() -> None:
    """Type errors for containers speak of tables and arrays."""
    assert errors_of({"name": "n", "inner": "nope", "table": 5}) == [
        "inner: must be an array",
        "table: must be a table",
    ]


def test_invalid_dict_key() -> None:
    """A bad key of a mapping is reported at the key's path."""
    assert errors_of({"name": "n", "mapping": {"Bad": 1}}) == [
        "mapping.Bad: invalid key: must match pattern '^[a-z]+$' (got 'Bad')"
    ]


SECRET = "hunter2-super-secret"


def test_secret_values_never_shown() -> None:
    """Values of secret-looking keys are neither echoed nor left in validator messages."""
    lines = errors_of(
        {
            "name": "n",
            "table": {"api_token": 12345678, "password": f"{SECRET} x"},
            "inner": [{"api_token": ["list"], "password": "short"}],
        }
    )
    text = "\n".join(lines)
    assert SECRET not in text
    assert "12345678" not in text
    assert "short" not in text
    assert "table.api_token: must be a valid string" in lines
    assert "table.password: '***' must not contain spaces" in lines
    assert "inner[0].password: must have at least 8 characters" in lines


def test_extra_secret_keys() -> None:
    """Callers can mark more keys secret, e.g. URLs that embed credentials; a URL's password
    is masked even where the key is not secret."""
    url = "mailto://user:pass1234@example.com"
    data = {"name": "n", "table": {"api_token": "x", "password": "longenough", "region": url}}
    plain = errors_of(data)
    hidden = errors_of(data, secret_keys=frozenset({"region"}))
    masked = "mailto://user:***@example.com"
    assert plain == [f"table.region: must be 'eu' or 'us' (got {masked!r})"]
    assert hidden == ["table.region: must be 'eu' or 'us'"]


def test_unknown_key_value_never_shown() -> None:
    """A misspelt key may hold a secret: its value is not echoed."""
    (line,) = errors_of({"name": "n", "tokn": SECRET})
    assert line == "tokn: unknown key"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_token", True),
        ("API_KEY", True),
        ("password", True),
        ("client_secret", True),
        ("authorization", True),
        ("credentials_file", True),
        ("account_id", False),
        ("region", False),
        ("interval", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    """Key names that suggest secrets are recognised, case-insensitively."""
    assert is_secret_name(name) is secret


def test_config_error() -> None:
    """ConfigError keeps the lines and prints one per line."""
    error = ConfigError(["a.b: bad", "c[0]: worse"])
    assert error.errors == ["a.b: bad", "c[0]: worse"]
    assert str(error) == "a.b: bad\nc[0]: worse"
    assert str(ConfigError("only: one")) == "only: one"
    assert ConfigError("only: one").errors == ["only: one"]
