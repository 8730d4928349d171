from django.http import Http404, HttpRequest, HttpResponse

from helpdesk.feedback import parse_feedback_token


def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """Placeholder target for signed feedback links; the web issue builds the page."""
    if parse_feedback_token(token) is None:
        raise Http404
    raise Http404
