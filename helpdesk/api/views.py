"""The API's views: parse the request, call tickets.services or
tickets.selectors (the web's access rules), answer JSON.

A ticket's ETag is a hash of its representation for the reader, so any
change the reader can see changes it (tags too, which do not touch
updated_at). PATCH with If-Match compares it under the ticket's row lock:
of two edits made from the same read, the second gets 412.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from helpdesk.accounts import customer_get_or_create
from helpdesk.api.errors import Conflict, KeyReused, PreconditionFailed
from helpdesk.api.models import IdempotencyKey
from helpdesk.api.serializers import (
    CategorySerializer,
    MessageCreateSerializer,
    MessageSerializer,
    TeamSerializer,
    TicketCreateSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    UserSerializer,
)
from helpdesk.models import User
from helpdesk.roles import STAFF_ROLES
from helpdesk.ticket_filters import TicketFilterForm, apply_filters
from tickets import access, selectors, services
from tickets.models import Category, Message, Source, Team, Ticket
from tickets.states import Status

# The list's sorts the cursor can page through: plain columns of the ticket
# (the web's sorts by a related name cannot be encoded in a cursor).
CURSOR_SORTS = {
    "reference": "reference",
    "subject": "subject",
    "status": "status_rank",
    "priority": "priority_rank",
    "created": "created_at",
    "updated": "updated_at",
}
IDEMPOTENCY_KEY_MAX = 255


class IsStaff(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return access.is_staff(request.user)


class UserLanguageMixin:
    """A token's user gets their saved language too: UserLanguageMiddleware
    runs before DRF authenticates a bearer token, so it sees no user."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        language = getattr(request.user, "language", None)
        if language and translation.check_for_language(language):
            translation.activate(language)
            request._request.LANGUAGE_CODE = language


class TicketPagination(CursorPagination):
    page_size = 25
    page_size_query_param = "per_page"
    max_page_size = 100
    ordering = ("-updated_at", "-id")

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        sort = request.query_params.get("sort", "")
        field = CURSOR_SORTS.get(sort.removeprefix("-"))
        if field is None:
            return self.ordering
        if sort.startswith("-"):
            return (f"-{field}", "-id")
        return (field, "id")


class MessagePagination(CursorPagination):
    page_size = 50
    page_size_query_param = "per_page"
    max_page_size = 200
    ordering = ("created_at", "id")


class EmailPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "per_page"
    max_page_size = 500
    ordering = ("email", "id")


class NamePagination(CursorPagination):
    page_size = 100
    page_size_query_param = "per_page"
    max_page_size = 500
    ordering = ("name", "id")


def _ticket_or_404(request: Request, reference: str) -> Ticket:
    try:
        return selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None


def etag_of(data: Any) -> str:
    encoded = json.dumps(data, sort_keys=True, default=str).encode()
    return '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


class ApiRoot(UserLanguageMixin, APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        links = {
            name: reverse(f"api:{name}", request=request)
            for name in ("ticket-list", "category-list", "team-list", "me")
        }
        if access.is_staff(request.user):
            links["user-list"] = reverse("api:user-list", request=request)
        links["schema"] = reverse("api_schema", request=request)
        return Response(links)


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, description="Search, as the web list's."),
        OpenApiParameter("status", str, many=True),
        OpenApiParameter("priority", str, many=True),
        OpenApiParameter("category", int, description="Staff only."),
        OpenApiParameter("team", int, description="Staff only."),
        OpenApiParameter("assignee", str, description="Staff only: me, none or a user id."),
        OpenApiParameter("requester", str, description="Staff only: the requester's email."),
        OpenApiParameter("created_from", OpenApiTypes.DATE),
        OpenApiParameter("created_to", OpenApiTypes.DATE),
        OpenApiParameter("mine", bool, description="Staff only."),
        OpenApiParameter("due", str, description="Staff only: breached, 1, 4 or 24 (hours)."),
        OpenApiParameter("tag", str, description="Staff only: a tag's name."),
        OpenApiParameter(
            "sort",
            str,
            enum=[*CURSOR_SORTS, *(f"-{k}" for k in CURSOR_SORTS)],
            description="Default -updated.",
        ),
    ]
)
class TicketList(UserLanguageMixin, generics.ListCreateAPIView[Ticket]):
    serializer_class = TicketSerializer
    pagination_class = TicketPagination

    def get_queryset(self) -> Any:
        form = TicketFilterForm(self.request.query_params, user=self.request.user)
        listed = apply_filters(selectors.ticket_list(user=self.request.user), form)
        return selectors.with_tags(listed.queryset)

    @extend_schema(
        request=TicketCreateSerializer,
        responses={201: TicketSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retry with the same key answers with the first ticket.",
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        staff = access.is_staff(user)
        if not staff and not getattr(user, "email_verified", True):
            raise PermissionDenied
        incoming = TicketCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        key = request.headers.get("Idempotency-Key", "").strip()[:IDEMPOTENCY_KEY_MAX]
        fingerprint = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        if key:
            earlier = IdempotencyKey.objects.filter(user=user, key=key).first()
            if earlier is not None:
                return self._replay(earlier, fingerprint)
        requester = user
        if staff and data.get("requester_email"):
            requester = customer_get_or_create(
                email=data["requester_email"], full_name=data.get("requester_name", "")
            )
        try:
            with transaction.atomic():
                ticket = services.ticket_create(
                    requester=requester,
                    actor=user,
                    subject=data["subject"],
                    body=data["body"],
                    category=data.get("category"),
                    priority=data.get("priority", ""),
                    source=Source.WEB,
                )
                if key:
                    IdempotencyKey.objects.create(
                        user=user, key=key, ticket=ticket, fingerprint=fingerprint
                    )
        except IntegrityError:
            # The same key raced in from another request, which committed
            # first: this ticket was rolled back, that one is the answer.
            earlier = IdempotencyKey.objects.filter(user=user, key=key).first() if key else None
            if earlier is None:
                raise
            return self._replay(earlier, fingerprint)
        return self._created(ticket, replayed=False)

    def _replay(self, earlier: IdempotencyKey, fingerprint: str) -> Response:
        if earlier.fingerprint and earlier.fingerprint != fingerprint:
            raise KeyReused
        return self._created(earlier.ticket, replayed=True)

    def _created(self, ticket: Ticket, *, replayed: bool) -> Response:
        ticket = selectors.ticket_get(user=self.request.user, reference=ticket.reference)
        data = TicketSerializer(ticket, context=self.get_serializer_context()).data
        headers = {
            "Location": reverse(
                "api:ticket-detail", kwargs={"reference": ticket.reference}, request=self.request
            ),
            "ETag": etag_of(data),
        }
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)


class TicketDetail(UserLanguageMixin, generics.GenericAPIView[Ticket]):
    serializer_class = TicketSerializer

    def _read(self, reference: str) -> tuple[Ticket, Any]:
        ticket = _ticket_or_404(self.request, reference)
        return ticket, TicketSerializer(ticket, context=self.get_serializer_context()).data

    def get(self, request: Request, reference: str) -> Response:
        _ticket, data = self._read(reference)
        etag = etag_of(data)
        if _matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    @extend_schema(
        request=TicketUpdateSerializer,
        responses={200: TicketSerializer},
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag you read: 412 if the ticket changed since.",
            )
        ],
    )
    def patch(self, request: Request, reference: str) -> Response:
        incoming = TicketUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if_match = request.headers.get("If-Match", "")
        with transaction.atomic():
            ticket = _ticket_or_404(request, reference)
            # The row lock orders concurrent edits; the ETag is compared
            # under it, so two edits from one read cannot both pass.
            Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
            ticket, current = self._read(reference)
            if if_match and not _matches(if_match, etag_of(current)):
                raise PreconditionFailed
            _apply(ticket, data, request.user)
        _ticket, fresh = self._read(reference)
        return Response(fresh, headers={"ETag": etag_of(fresh)})


def _apply(ticket: Ticket, data: dict[str, Any], actor: Any) -> None:
    """Each changed field through its service, as the web's properties form."""
    if "team" in data and data["team"] != ticket.team:
        services.ticket_team_set(ticket=ticket, team=data["team"], actor=actor)
    if "assignee" in data and data["assignee"] != ticket.assigned_to:
        services.ticket_assign(ticket=ticket, assignee=data["assignee"], actor=actor)
    if "category" in data and data["category"] != ticket.category:
        services.ticket_category_set(ticket=ticket, category=data["category"], actor=actor)
    if "priority" in data and data["priority"] != ticket.priority:
        services.ticket_priority_set(ticket=ticket, priority=data["priority"], actor=actor)
    if "tags" in data:
        wanted = {" ".join(t.split()).lower(): t for t in data["tags"] if t.strip()}
        present = {t.name.lower(): t.name for t in ticket.tags.all()}
        for lowered, name in present.items():
            if lowered not in wanted:
                services.ticket_tag_remove(ticket=ticket, name=name, actor=actor)
        for lowered, name in wanted.items():
            if lowered not in present:
                services.ticket_tag_add(ticket=ticket, name=name, actor=actor)
    if "status" in data and data["status"] != ticket.status:
        services.ticket_transition(ticket=ticket, to=data["status"], actor=actor)


class TicketMessages(UserLanguageMixin, generics.ListCreateAPIView[Message]):
    serializer_class = MessageSerializer
    pagination_class = MessagePagination

    def get_queryset(self) -> Any:
        ticket = _ticket_or_404(self.request, self.kwargs["reference"])
        return selectors.ticket_thread(ticket=ticket, user=self.request.user)

    @extend_schema(request=MessageCreateSerializer, responses={201: MessageSerializer})
    def post(self, request: Request, reference: str) -> Response:
        ticket = _ticket_or_404(request, reference)
        incoming = MessageCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        staff = access.is_staff(request.user)
        if data["internal"] and not staff:
            raise PermissionDenied
        if ticket.merged_into_id is not None:
            raise Conflict(_("This ticket was merged into another one; reply there."))
        if not staff and ticket.status == Status.CLOSED:
            raise Conflict(_("This ticket is closed; reopen it to add a reply."))
        with transaction.atomic():
            message = services.ticket_reply_add(
                ticket=ticket,
                author=request.user,
                body=data["body"],
                internal=data["internal"],
                source=Source.WEB,
            )
        shown = self.get_queryset().get(pk=message.pk)
        return Response(
            MessageSerializer(shown, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class CategoryList(UserLanguageMixin, generics.ListAPIView[Category]):
    serializer_class = CategorySerializer
    pagination_class = NamePagination
    queryset = Category.objects.all()


class TeamList(UserLanguageMixin, generics.ListAPIView[Team]):
    serializer_class = TeamSerializer
    pagination_class = NamePagination
    queryset = Team.objects.all()


class Me(UserLanguageMixin, generics.RetrieveAPIView[User]):
    serializer_class = UserSerializer

    def get_object(self) -> Any:
        return self.request.user


class UserList(UserLanguageMixin, generics.ListAPIView[User]):
    """Staff and customers; staff only. ?role=agent (or customer, ...) narrows it."""

    serializer_class = UserSerializer
    permission_classes = (permissions.IsAuthenticated, IsStaff)
    pagination_class = EmailPagination

    def get_queryset(self) -> Any:
        users = User.objects.all()
        role = self.request.query_params.get("role", "")
        if role == "staff":
            users = users.filter(role__in=STAFF_ROLES)
        elif role:
            users = users.filter(role=role)
        return users
