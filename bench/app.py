"""`voila bears.ipynb` from start to a classified photo in chromium, cold (a new server and kernel
each run), then a second visitor of the running server (the kernel Voilà preheated meanwhile).
The baseline, in the same runs: the same cold start of a notebook that only shows an upload button
and a Classify button (no app code, no model): what Voilà, its page and the browser cost."""

import tempfile
import time
from pathlib import Path

from bench.runner import Result, Target, chromium, main, photos, spread
from harness.servers import serve, two_button_app

TARGETS = [Target("answer_s.p50", 4)]


def arguments(parser):
    parser.add_argument("--runs", type=int, default=3)


async def cold_start(browser, photo: Path) -> dict:
    from harness.browser import Visit

    t0 = time.perf_counter()
    with serve("voila") as server:
        server_up = time.perf_counter() - t0
        visit = await (await Visit.start(browser)).open(server.url)
        ready = time.perf_counter() - t0
        answer = await visit.classify(photo)
        answered = time.perf_counter() - t0
        await visit.close()
        second = await (await Visit.start(browser)).open(server.url)
        seconds = second.ready_s + (await second.classify(photo)).seconds
        await second.close()
    return {
        "server_up_s": round(server_up, 2),
        "app_ready_s": round(ready, 2),
        "answer_s": round(answered, 2),
        "second_visitor_answer_s": round(seconds, 2),
        "answer": answer.text,
    }


async def two_button_ready(browser) -> float:
    """Seconds from starting Voilà on the two-button notebook to its buttons in the page."""
    from harness.browser import Visit

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with serve("voila", root=two_button_app(Path(tmp))) as server:
            visit = await (await Visit.start(browser)).open(server.url)
            seconds = time.perf_counter() - t0
            await visit.close()
    return round(seconds, 2)


async def run(args):
    from harness.browser import launch

    chromium()
    photo = sorted((photos("bears-test") / "grizzly").glob("*.jpg"))[0]
    async with launch() as browser:
        runs = [
            {**await cold_start(browser, photo), "two_button_ready_s": await two_button_ready(browser)}
            for _ in range(args.runs)
        ]
    keys = ("answer_s", "app_ready_s", "two_button_ready_s", "second_visitor_answer_s")
    figures = {key: spread(r[key] for r in runs) for key in keys}
    return [Result(figures | {"runs": runs}, TARGETS)]


if __name__ == "__main__":
    main()
