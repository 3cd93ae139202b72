"""A class arrives at once: N visitors in chromium each open the app, classify K photos one after
another and leave (closing the page without `beforeunload`, as a phone that loses the connection),
against a freshly started server whose preheated pool has started; then the kernels they left are
watched until the culler has removed them (keep the cull timeout above the page-ready time: a
kernel whose page has not connected within it is culled). The baseline, in the same run: as many
pages of a notebook that shows only two buttons, opened at once; with chromium on the same cores
as the server, page-ready cannot beat it (`cpu_s` says why)."""

import argparse
import tempfile
import time
from pathlib import Path

from bench.runner import Result, Target, chromium, main, photos, spread
from harness.photos import photo_sets
from harness.servers import ROOT, ROUTES, cull_args, serve, settings, two_button_app

SLACK_S = 30
TARGETS = [
    Target("unserved", 0),
    Target("unanswered", 0),
    Target("errors", 0),
    Target("page_ready_s.max", 15),
    Target("answer_s.p50", 2.5),
    Target("visitor_kernels_left_after_cull_wait", 0),
]


def arguments(parser):
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--photos", type=int, default=5, help="photos each visitor classifies")
    parser.add_argument("--runs", type=int, default=1, help="runs per route, each on a fresh server")
    parser.add_argument("--cull-timeout", type=int, default=60, help="seconds (the committed config: 300)")
    parser.add_argument("--cull-interval", type=int, default=10, help="seconds (the committed config: 60)")
    parser.add_argument("--two-button-baseline", action=argparse.BooleanOptionalAction, default=True)


async def one_run(browser, route: str, args, root=None) -> dict:
    from harness.scenarios import crowd

    pool = settings(route)["pool_size"]
    folder = photos("bears-test")
    with serve(route, args=cull_args(args.cull_timeout, args.cull_interval), root=root or ROOT) as server:
        server.wait_for_kernels(pool, timeout=300)
        seen = await crowd(browser, server, photo_sets(folder, args.visitors, args.photos))
        left = len(server.kernels()) - pool
        t0 = time.perf_counter()
        try:
            server.wait_for_kernels(pool, at_most=True, timeout=args.cull_timeout + args.cull_interval + SLACK_S)
            gone = round(time.perf_counter() - t0, 1)
        except TimeoutError:
            gone = None
        remaining = len(server.kernels()) - pool
    return {
        "visitors": seen["visitors"],
        "served": seen["served"],
        "unserved": seen["unserved"],
        "answered": seen["answered"],
        "unanswered": seen["unanswered"],
        "correct": seen["correct"],
        "errors": len(seen["errors"]),
        "error_lines": seen["errors"],
        "page_ready_s": spread(seen["ready_s"]),
        "answer_s": spread(seen["answers_s"]),
        "memory": seen["memory"],
        "visitor_kernels_after_leaving": left,
        "visitor_kernels_gone_after_s": gone,
        "visitor_kernels_left_after_cull_wait": remaining,
    }


def worst(runs: list[dict]) -> dict:
    """The worst run's figure for each target (None where a run had no page ready or no answer)."""

    def largest(key, stat):
        values = [r[key][stat] if r[key] else None for r in runs]
        return None if None in values else max(values)

    return {
        "unserved": max(r["unserved"] for r in runs),
        "unanswered": max(r["unanswered"] for r in runs),
        "errors": max(r["errors"] for r in runs),
        "page_ready_s": {"max": largest("page_ready_s", "max")},
        "answer_s": {"p50": largest("answer_s", "p50")},
        "visitor_kernels_left_after_cull_wait": max(r["visitor_kernels_left_after_cull_wait"] for r in runs),
    }


async def run(args):
    from harness.browser import launch

    chromium()
    results = []
    async with launch() as browser:
        baseline = None
        if args.two_button_baseline:
            with tempfile.TemporaryDirectory() as tmp:
                plain = argparse.Namespace(**{**vars(args), "photos": 0})
                seen = await one_run(browser, "voila", plain, two_button_app(Path(tmp)))
            baseline = {k: seen[k] for k in ("served", "page_ready_s", "errors")} | {"cpu_s": seen["memory"]["cpu_s"]}
        for route in args.routes.split(","):
            runs = [await one_run(browser, route, args) for _ in range(args.runs)]
            figures = worst(runs) | {"runs": runs, "two_button_baseline": baseline}
            results.append(Result(figures, TARGETS, route))
    return results


if __name__ == "__main__":
    main()
