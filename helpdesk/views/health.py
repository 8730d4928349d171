from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk.health import report
from tickets.access import is_staff

# Free text that may name hosts, accounts or server replies: staff and the
# `healthcheck` command see it, an anonymous monitor only sees that it failed.
_DETAIL_KEYS = frozenset({"error", "last_error", "warnings"})


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: ("hidden" if key in _DETAIL_KEYS and item else _redacted(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    result = report()
    body = result if is_staff(request.user) else _redacted(result)
    return JsonResponse(body, status=200 if result["ok"] else 503)
