"""GET /api/v1/plugins/domain_routing/rules/: the rules and what they routed, staff only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api.views import IsStaff
from plugins.domain_routing.rules import overview


class RuleSerializer(serializers.Serializer[Any]):
    domain = serializers.CharField(help_text=_("Sender domain (subdomains included)."))
    action = serializers.ChoiceField(choices=["route", "drop"])
    team = serializers.CharField(allow_blank=True, help_text=_("Team name, empty for none."))
    team_exists = serializers.BooleanField()
    tag = serializers.CharField(allow_blank=True)
    open_tickets = serializers.IntegerField(help_text=_("Active tickets carrying the tag."))
    last_reference = serializers.CharField(
        allow_blank=True, help_text=_("The last ticket the domain opened.")
    )


class RuleList(APIView):
    permission_classes = (permissions.IsAuthenticated, IsStaff)

    @extend_schema(responses=RuleSerializer(many=True), operation_id="domain_routing_rules")
    def get(self, request: Request) -> Response:
        rows = [asdict(row) for row in overview()]
        return Response(RuleSerializer(rows, many=True).data)
