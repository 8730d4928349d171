"""Pages of a list whose total is not counted.

A search for a common word matches tens of thousands of tickets; counting
them costs more than showing a page of the newest. UncountedPaginator reads
one row more than a page shows to learn whether a next page exists, and
knows the total only once the last page is reached. Its pages answer the
parts of Django's Page interface that the list templates use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class UncountedPaginator:
    def __init__(self, object_list: Any, per_page: int) -> None:
        self.object_list = object_list
        self.per_page = per_page
        # Known once the last page has been read (then num_pages too).
        self.count: int | None = None
        self.num_pages: int | None = None

    def get_page(self, number: Any) -> UncountedPage:
        """The page by number; a bad number, or one past the end (an old link),
        gives the first page. Django's gives the last, which needs the count."""
        try:
            page = max(1, int(number))
        except (TypeError, ValueError):
            page = 1
        bottom = (page - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and page > 1:
            return self.get_page(1)
        more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        if not more:
            self.count, self.num_pages = bottom + len(rows), page
        return UncountedPage(rows, page, self, more=more)


class UncountedPage:
    def __init__(
        self, object_list: Sequence[Any], number: int, paginator: UncountedPaginator, *, more: bool
    ) -> None:
        self.object_list = object_list
        self.number = number
        self.paginator = paginator
        self._more = more

    def has_next(self) -> bool:
        return self._more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def start_index(self) -> int:
        if not self.object_list:
            return 0
        return (self.number - 1) * self.paginator.per_page + 1

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)
