from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.decorators import staff_required
from plugins.domain_routing.rules import overview


@staff_required
def index(request: HttpRequest) -> HttpResponse:
    """The configured domains and what they routed, for staff."""
    return render(request, "domain_routing/index.html", {"rows": overview()})
