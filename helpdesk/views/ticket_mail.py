"""Staff fixes for a mail the gateway threaded to the wrong ticket."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.decorators import staff_required
from tickets import selectors, services
from tickets.models import Message, Ticket


def _message_or_404(request: HttpRequest, reference: str, pk: int) -> Message:
    try:
        ticket = selectors.ticket_get(user=request.user, reference=reference)
    except Ticket.DoesNotExist:
        raise Http404 from None
    return get_object_or_404(ticket.messages.exclude(kind=Message.Kind.EVENT), pk=pk)


@staff_required
@require_POST
def message_move(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    message = _message_or_404(request, reference, pk)
    target_reference = request.POST.get("to", "").strip()
    try:
        target = selectors.ticket_get(user=request.user, reference=target_reference)
    except Ticket.DoesNotExist:
        messages.error(
            request, _("There is no ticket %(reference)s.") % {"reference": target_reference or "—"}
        )
        return redirect(message.ticket)
    services.message_move(message=message, to_ticket=target, actor=request.user)
    messages.success(
        request, _("Message moved to %(reference)s.") % {"reference": target.reference}
    )
    return redirect(target)


@staff_required
@require_POST
def message_split(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    message = _message_or_404(request, reference, pk)
    ticket = services.message_split(message=message, actor=request.user)
    messages.success(
        request,
        _("Message split into the new ticket %(reference)s.") % {"reference": ticket.reference},
    )
    return redirect(ticket)
