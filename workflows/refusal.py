"""A refusal of the model (domain.common.Refused) as the Update failure the API maps to 403 / 409:
its type is the error's name. Raised by the validators, so nothing reaches history."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain.common import Forbidden, NotAllowedNow, Refused

NOT_ALLOWED_NOW = NotAllowedNow.__name__
FORBIDDEN = Forbidden.__name__


def refused(error: Refused) -> ApplicationError:
    return ApplicationError(
        error.message, error.details, type=type(error).__name__, non_retryable=True
    )
