"""App start-to-answer benchmark: seconds from starting `voila bears.ipynb` to a classified
upload in headless chromium (cold: a new server and kernel each run), then the same for a
second visitor of the running server. The floor: the same cold start of a notebook that only
shows an upload button and a Classify button (no app code, no model), with the committed
serving settings: what Voila, its page and the browser cost before any app code runs.

    .venv/bin/python -m bench.app [runs]     # prints JSON; goal: <= 4 s
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.browser import browser, classify_file, floor_app, open_app, serve
from harness.hosts import SHARED


def one_run(chromium, photo: Path) -> dict:
    t0 = time.perf_counter()
    with serve("voila") as server:
        url = server.url
        t_server = time.perf_counter() - t0
        page = chromium.new_page()
        open_app(page, url)
        t_ready = time.perf_counter() - t0
        answer = classify_file(page, photo)
        t_answer = time.perf_counter() - t0
        page.close()
        t1 = time.perf_counter()  # a second visitor, served by the kernel Voila preheated meanwhile
        page = chromium.new_page()
        open_app(page, url)
        classify_file(page, photo)
        t_second = time.perf_counter() - t1
        page.close()
    return {
        "server_up_s": round(t_server, 2),
        "app_ready_s": round(t_ready, 2),
        "answer_s": round(t_answer, 2),
        "second_visitor_answer_s": round(t_second, 2),
        "answer": answer,
    }


def floor_run(chromium) -> float:
    """Seconds from starting Voila on the floor notebook to its buttons in the page."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with serve("voila", root=floor_app(Path(tmp))) as server:
            page = chromium.new_page()
            open_app(page, server.url)
            seconds = time.perf_counter() - t0
            page.close()
    return round(seconds, 2)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    photos = sorted((SHARED / "bears-test/grizzly").glob("*.jpg"))
    if not photos:
        sys.exit(f"error: no photos in {SHARED}/bears-test/grizzly (set BEAR_DATA)")
    photo = photos[0]
    with browser() as chromium:
        results = [{**one_run(chromium, photo), "floor_ready_s": floor_run(chromium)} for _ in range(runs)]
    median = statistics.median(r["answer_s"] for r in results)
    print(
        json.dumps(
            {
                "runs": results,
                "median_answer_s": median,
                "median_app_ready_s": statistics.median(r["app_ready_s"] for r in results),
                "median_floor_ready_s": statistics.median(r["floor_ready_s"] for r in results),
                "median_second_visitor_answer_s": statistics.median(r["second_visitor_answer_s"] for r in results),
                "goal_s": 4,
                "meets_goal": median <= 4,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
