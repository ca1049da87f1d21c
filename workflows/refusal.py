"""A refusal of the model (domain.common.Refused) as the Update failure the API maps to 403 / 409:
its type is the error's name. Raised by the validators, so nothing reaches history (and, for
an unknown reference, by a split before it records anything: 422)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from temporalio.exceptions import ApplicationError

from domain.common import Forbidden, InvalidReference, NotAllowedNow, Refused

_T = TypeVar("_T")

NOT_ALLOWED_NOW = NotAllowedNow.__name__
FORBIDDEN = Forbidden.__name__
INVALID_REFERENCE = InvalidReference.__name__


def refused(error: Refused) -> ApplicationError:
    return ApplicationError(
        error.message, error.details, type=type(error).__name__, non_retryable=True
    )


def decided(decision: Callable[[], _T]) -> _T:
    """The model's decision, or its refusal raised as the Update's failure."""
    try:
        return decision()
    except Refused as error:
        raise refused(error) from None
