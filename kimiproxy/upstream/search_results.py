"""Web-search results of one answer, each URL passed on once, whichever protocol found them."""

from __future__ import annotations

from kimiproxy.upstream.events import SearchResult


class SearchResults:
    """Kimi repeats a result when it updates its search block, and a continued answer may search
    again: only a URL not seen before in this answer becomes a :class:`SearchResult`."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first_sighting(
        self,
        url: object,
        title: object = None,
        site_name: object = None,
        snippet: object = None,
        date: object = None,
    ) -> SearchResult | None:
        """The result for ``url``, or ``None`` when it has no URL or the URL came before.

        Fields are whatever Kimi sent; a missing title falls back to the URL."""
        if not url:
            return None
        url = str(url)
        if url in self._seen:
            return None
        self._seen.add(url)
        return SearchResult(
            title=str(title or url),
            url=url,
            site_name=str(site_name or ""),
            snippet=str(snippet or ""),
            date=str(date or ""),
        )
