"""How a delivery attempt ends when it does not end well."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """A successful attempt: the peer's status (250, 200, ...) and a note."""

    code: int | None
    detail: str


class DeliveryError(Exception):
    """The attempt failed. permanent: retrying cannot help (a 5xx for the
    recipient, a 4xx from a webhook other than 408/429, a refused URL);
    skip: there is nothing to deliver any more (bouncing recipient, removed
    endpoint). Otherwise the item is retried with backoff. peer_down: the
    relay or endpoint itself failed (refused, timed out, 5xx), not this item,
    so the other rows waiting for the same peer wait too instead of each
    spending a timeout on it."""

    def __init__(
        self,
        detail: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        skip: bool = False,
        peer_down: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.permanent = permanent or skip
        self.skip = skip
        self.peer_down = peer_down and not self.permanent
