"""Staff see how a mail was threaded and can move or split it."""

from typing import Any

from django.test import Client

from mailgateway.ingest import ingest_raw_email
from tickets.models import MailId, Ticket


def _mail(message_id: str, subject: str, body: str, in_reply_to: str = "") -> bytes:
    headers = [
        "From: Carla Cliente <carla@cliente.com.br>",
        "To: support@example.com",
        f"Subject: {subject}",
        f"Message-ID: <{message_id}>",
        "Date: Fri, 27 Nov 2026 10:00:00 -0300",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def _thread_of_two(customer: Any) -> tuple[Ticket, Any]:
    first = ingest_raw_email(_mail("m1@cliente", "Impressora", "Não imprime"), door="pipe")
    reply = ingest_raw_email(
        _mail("m2@cliente", "Outro assunto", "Outra coisa: o boleto", in_reply_to="m1@cliente"),
        door="pipe",
    )
    assert (first.outcome, reply.outcome) == ("created", "replied")
    ticket = Ticket.objects.get(reference=first.reference)
    return ticket, ticket.messages.get(message_id__contains="m2@cliente")


def test_staff_see_the_verdict_and_customers_do_not(
    client: Client, customer: Any, agent: Any
) -> None:
    ticket, reply = _thread_of_two(customer)
    agent.language = "en"
    agent.save()
    client.force_login(agent)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "Matched by its In-Reply-To/References headers." in page
    assert f"/messages/{reply.pk}/split/" in page and f"/messages/{reply.pk}/move/" in page
    client.force_login(customer)
    page = client.get(ticket.get_absolute_url()).content.decode()
    assert "mail-verdict" not in page and "/split/" not in page


def test_move_takes_the_message_and_its_message_id_along(
    client: Client, customer: Any, agent: Any
) -> None:
    ticket, reply = _thread_of_two(customer)
    other = Ticket.objects.exclude(pk=ticket.pk).first() or ticket.__class__.objects.get(
        reference=ingest_raw_email(_mail("m3@cliente", "Boleto", "2ª via"), door="pipe").reference
    )
    client.force_login(agent)
    response = client.post(
        f"/tickets/{ticket.reference}/messages/{reply.pk}/move/", {"to": other.reference.lower()}
    )
    assert response.status_code == 302 and response["Location"] == other.get_absolute_url()
    reply.refresh_from_db()
    assert reply.ticket == other
    assert MailId.objects.get(message_id="m2@cliente").ticket == other
    assert ticket.events.filter(kind="moved").exists() and other.events.filter(kind="moved")
    # A later answer to the moved mail now threads to the right ticket.
    later = ingest_raw_email(
        _mail("m4@cliente", "Re: boleto", "Obrigada", in_reply_to="m2@cliente"), door="pipe"
    )
    assert (later.outcome, later.reference) == ("replied", other.reference)


def test_move_to_an_unknown_ticket_is_a_clear_error(
    client: Client, customer: Any, agent: Any
) -> None:
    ticket, reply = _thread_of_two(customer)
    client.force_login(agent)
    response = client.post(
        f"/tickets/{ticket.reference}/messages/{reply.pk}/move/",
        {"to": "HD-1999-0001"},
        follow=True,
    )
    assert "HD-1999-0001" in response.content.decode()
    reply.refresh_from_db()
    assert reply.ticket == ticket


def test_split_opens_a_linked_ticket(client: Client, customer: Any, agent: Any) -> None:
    ticket, reply = _thread_of_two(customer)
    client.force_login(agent)
    response = client.post(f"/tickets/{ticket.reference}/messages/{reply.pk}/split/")
    reply.refresh_from_db()
    new = reply.ticket
    assert new != ticket and new.linked_to == ticket and new.created_by == customer
    assert response["Location"] == new.get_absolute_url()
