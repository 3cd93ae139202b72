"""Image search (DuckDuckGo, through the maintained `ddgs` client, with retries) into a dataset:
one folder per class.

    python -m bear_classifier.photos.search --out bears --per-class 150     # the three bears
    python -m bear_classifier.photos.search --out balls "tennis ball=tennis" "cricket ball=cricket"
    python -m bear_classifier.photos.search --out bears --urls grizzly=grizzly_urls.txt

Reruns resume: finished URLs are skipped and search results are reused.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..core import BEARS
from .download import Counts, download_images


class SearchError(RuntimeError):
    """The search service refused or failed; str() says what to do."""


def default_client():
    """A DDGS client (`ddgs`, installed with the training extras)."""
    from ddgs import DDGS

    return DDGS()


def _is_no_results(err: Exception) -> bool:
    return "no results" in str(err).lower()


def search_images(
    term: str,
    max_images: int = 150,
    client=None,
    retries: int = 4,
    backoff: float = 2.0,
    backend: str = "duckduckgo",
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
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
                    raise SearchError(
                        f"image search for {term!r} failed after {retries + 1} tries ({type(e).__name__}: "
                        f"{str(e)[:100]}); wait a few minutes and rerun, or put your own images "
                        f"in one folder per class"
                    ) from None
                sleep(backoff * 2**attempt)
        new = [r["image"] for r in results if r.get("image") and r["image"] not in urls]
        if not new:
            break
        urls += new
        page += 1
    return urls[:max_images]


BEAR_CLASSES = [f"{bear} bear={bear}" for bear in BEARS]


def parse_spec(spec: str) -> tuple[str, str]:
    """'search term=folder' -> (term, folder); a bare term uses itself as the folder name."""
    term, _, folder = spec.partition("=")
    term, folder = term.strip(), (folder or term).strip()
    if not term or not folder or "/" in folder or folder.startswith("."):
        raise ValueError(f"bad class spec {spec!r}; write it as 'search term=folder'")
    return term, folder


def cached_search(root: Path, term: str, folder: str, max_images: int, client=None) -> list[str]:
    """Search once per (term, folder); reruns read <root>/.searches/<folder>.json."""
    cache = Path(root) / ".searches" / f"{folder}.json"
    if cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("term") == term and len(saved.get("urls", [])) >= max_images:
            return saved["urls"][:max_images]
    urls = search_images(term, max_images, client=client)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"term": term, "urls": urls}, indent=0))
    return urls


def build_dataset(
    root: Path, classes: dict[str, list[str]], workers: int = 16, timeout: float = 10.0, progress: bool = True
) -> dict[str, Counts]:
    """Download {folder: urls} into root/<folder>/ and return the counts per folder."""
    return {
        folder: download_images(urls, Path(root) / folder, workers, timeout, progress)
        for folder, urls in classes.items()
    }


def download_dataset(root: Path, specs: list[str], per_class: int = 150, client=None, **kw) -> dict[str, Counts]:
    """Search each 'term=folder' spec and download the results into root/<folder>/."""
    plan = {}
    for spec in specs:
        term, folder = parse_spec(spec)
        plan[folder] = cached_search(root, term, folder, per_class, client)
        print(f"{term!r}: {len(plan[folder])} image URLs")
    counts = build_dataset(root, plan, **kw)
    for folder, c in counts.items():
        print(f"{folder}: {c}")
    return counts


def main(argv=None):
    p = argparse.ArgumentParser(description="Download an image dataset: one folder per class.")
    p.add_argument("classes", nargs="*", help="'search term=folder' per class (default: the three bears)")
    p.add_argument("--out", type=Path, default=Path("bears"))
    p.add_argument("--per-class", type=int, default=150, help="search results to download per class")
    p.add_argument(
        "--urls",
        action="append",
        default=[],
        metavar="FOLDER=FILE",
        help="download the URLs listed in FILE (one per line) into FOLDER instead of searching",
    )
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    a = p.parse_args(argv)
    try:
        plan: dict[str, list[str]] = {}
        for spec in a.urls:
            folder, _, file = spec.partition("=")
            if not folder or not file:
                raise ValueError(f"bad --urls {spec!r}; write it as FOLDER=FILE")
            plan[folder] = [
                u.strip() for u in Path(file).read_text().splitlines() if u.strip() and not u.startswith("#")
            ]
        if plan:
            for folder, c in build_dataset(a.out, plan, a.workers, a.timeout).items():
                print(f"{folder}: {c}")
        if a.classes or not a.urls:
            download_dataset(a.out, a.classes or BEAR_CLASSES, a.per_class, workers=a.workers, timeout=a.timeout)
    except (SearchError, ValueError, OSError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
