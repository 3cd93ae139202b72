"""search_images against a fake client shaped exactly like ddgs's DDGS.images()."""

import dataclasses
import inspect

import pytest

from bear_classifier.photos.search import SearchError, search_images

RESULT_KEYS = {"title", "image", "thumbnail", "url", "height", "width", "source"}


class RatelimitException(Exception):
    """Stands in for ddgs.exceptions.RatelimitException."""


class FakeDDGS:
    """Same call shape as ddgs.DDGS.images(query, **kwargs) and the same result keys."""

    def __init__(self, n=250, per_page=100, fail_first=0, error=RatelimitException("202 Ratelimit")):
        self.n, self.per_page, self.fail_first, self.error, self.calls = n, per_page, fail_first, error, []

    def images(self, query, **kwargs):
        self.calls.append((query, kwargs))
        if len(self.calls) <= self.fail_first:
            raise self.error
        page = kwargs.get("page", 1)
        start = (page - 1) * self.per_page
        stop = min(self.n, start + min(self.per_page, kwargs.get("max_results") or self.per_page))
        if start >= self.n:
            raise Exception("No results found.")
        return [
            {
                "title": f"{query} {i}",
                "image": f"https://img.example/{query}/{i}.jpg",
                "thumbnail": f"https://tse.example/{i}",
                "url": f"https://page.example/{i}",
                "height": 480,
                "width": 640,
                "source": "Bing",
            }
            for i in range(start, stop)
        ]


def test_fake_matches_the_installed_ddgs_api():
    from ddgs import DDGS
    from ddgs.results import ImagesResult

    params = inspect.signature(DDGS.images).parameters
    assert list(params)[:2] == ["self", "query"] and any(p.kind == p.VAR_KEYWORD for p in params.values())
    search = inspect.signature(DDGS._search_sync).parameters
    assert {"max_results", "page", "backend", "region", "safesearch"} <= set(search)
    assert {f.name for f in dataclasses.fields(ImagesResult)} == RESULT_KEYS
    assert set(FakeDDGS().images("x")[0]) == RESULT_KEYS


def test_pages_until_enough_without_repeats():
    fake = FakeDDGS(n=250)
    urls = search_images("grizzly bear", 150, client=fake, sleep=lambda s: None)
    assert len(urls) == 150 == len(set(urls))
    assert [c[1]["page"] for c in fake.calls] == [1, 2]
    assert fake.calls[0][0] == "grizzly bear"


def test_fewer_results_than_asked_is_fine():
    assert len(search_images("rare", 150, client=FakeDDGS(n=30), sleep=lambda s: None)) == 30


def test_rate_limit_is_retried_with_exponential_backoff():
    waits = []
    urls = search_images("black bear", 10, client=FakeDDGS(fail_first=2), backoff=1.5, sleep=waits.append)
    assert len(urls) == 10
    assert waits == [1.5, 3.0]


def test_persistent_refusal_gives_a_clear_message():
    waits = []
    with pytest.raises(SearchError, match=r"failed after 3 tries.*Ratelimit.*own images") as e:
        search_images("teddy bear", 10, client=FakeDDGS(fail_first=99), retries=2, sleep=waits.append)
    assert "\n" not in str(e.value) and waits == [2.0, 4.0]
