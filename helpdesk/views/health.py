from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk.health import report


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    result = report()
    return JsonResponse(result, status=200 if result["ok"] else 503)
