"""Domain types: the collector run outcomes and what each one means."""

from __future__ import annotations

from quota_watch.model import Outcome
from quota_watch.sdk import (
    AuthError,
    CollectorError,
    NoData,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)


def test_outcome_values_are_the_stored_strings() -> None:
    assert {o.value for o in Outcome} == {
        "success",
        "auth",
        "rate_limited",
        "unavailable",
        "unexpected",
        "no_data",
        "error",
    }
    assert str(Outcome.NO_DATA) == "no_data"
    assert f"{Outcome.RATE_LIMITED}" == "rate_limited"


def test_outcome_classes() -> None:
    assert {o for o in Outcome if not o.is_failure} == {Outcome.SUCCESS, Outcome.NO_DATA}
    assert {o for o in Outcome if o.keeps_state} == {Outcome.SUCCESS, Outcome.NO_DATA}
    assert {o for o in Outcome if o.is_retried} == {
        Outcome.UNAVAILABLE,
        Outcome.RATE_LIMITED,
        Outcome.UNEXPECTED,
        Outcome.ERROR,
    }


def test_every_sdk_error_has_an_outcome() -> None:
    errors = (
        CollectorError,
        AuthError,
        RateLimited,
        ProviderUnavailable,
        UnexpectedResponse,
        NoData,
    )
    assert {Outcome(e.outcome) for e in errors} == set(Outcome) - {Outcome.SUCCESS}
