"""Image search on DuckDuckGo through the maintained `ddgs` client, with retries."""
from __future__ import annotations

import time
from typing import Callable


class SearchError(RuntimeError):
    """The search service refused or failed; str() says what to do."""


def default_client():
    """A DDGS client (`ddgs`, installed with the training extras)."""
    from ddgs import DDGS

    return DDGS()


def _is_no_results(err: Exception) -> bool:
    return "no results" in str(err).lower()


def search_images(term: str, max_images: int = 150, client=None, retries: int = 4, backoff: float = 2.0,
                  backend: str = "duckduckgo", sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Up to `max_images` image URLs for `term`, in the service's order, without repeats.

    Pages through results; rate limits and transient errors are retried with
    exponential backoff (`backoff`, 2x, 4x, ...), then reported as SearchError.
    """
    client = client or default_client()
    urls: list[str] = []
    page = 1
    while len(urls) < max_images:
        results = None
        for attempt in range(retries + 1):
            try:
                results = client.images(term, max_results=max_images - len(urls), page=page, backend=backend)
                break
            except Exception as e:  # ddgs raises DDGSException / RatelimitException / TimeoutException
                if _is_no_results(e):
                    results = []
                    break
                if attempt == retries:
                    if urls:
                        return urls  # keep what earlier pages gave
                    raise SearchError(f"image search for {term!r} failed after {retries + 1} tries ({type(e).__name__}: "
                                      f"{str(e)[:100]}); wait a few minutes and rerun, or put your own images "
                                      f"in one folder per class") from None
                sleep(backoff * 2 ** attempt)
        new = [r["image"] for r in results if r.get("image") and r["image"] not in urls]
        if not new:
            break
        urls += new
        page += 1
    return urls[:max_images]

