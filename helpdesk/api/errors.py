"""Errors as JSON, in the user's language: {"field": ["message", ...]} for
invalid input, {"detail": "message"} otherwise, with the HTTP status that
means it (401, 403, 404, 409, 412, 422, 429)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tickets.states import InvalidTransition, Status


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the ticket's current state.")
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The ticket changed since you read it: read it again, then retry.")
    default_code = "precondition_failed"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_key_reused"


def _label(value: str) -> str:
    return str(Status(value).label) if value in Status.values else value


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidTransition):
        exc = Conflict(
            _("The ticket cannot move from %(old)s to %(new)s.")
            % {"old": _label(exc.old), "new": _label(exc.new)}
        )
    elif isinstance(exc, DjangoValidationError):
        # A service refused: per field when it names one (bad input), else
        # the ticket's state does not allow it (merged, closed...).
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = Conflict(" ".join(exc.messages))
    return drf_exception_handler(exc, context)
