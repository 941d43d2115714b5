"""The shared `api_base` option type: one rule and one message for every collector."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from quota_watch.sdk import ApiBase


class Options(BaseModel):
    api_base: ApiBase


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://127.0.0.1:8080/api/v2", "http://127.0.0.1:8080/api/v2"),
    ],
)
def test_a_plain_root_is_kept_without_its_trailing_slash(value: str, kept: str) -> None:
    assert Options(api_base=value).api_base == kept


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://files.example", "must be an http(s) URL with a host"),
        ("https://", "must be an http(s) URL with a host"),
        ("https://user:secret@api.example.com", "must not carry user info"),
        ("https://api.example.com/?key=secret", "a query string"),
        ("https://api.example.com/#x", "or a fragment"),
    ],
)
def test_anything_else_is_refused_without_echoing_a_secret(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Options(api_base=value)
    (error,) = caught.value.errors()
    assert message in error["msg"]
    assert "secret" not in error["msg"]
