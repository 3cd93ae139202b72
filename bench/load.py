"""Load benchmark: a class arrives at once. N visitors in chromium each open the app, classify K
photos one after another and leave, against a freshly started server (its preheated pool filled);
then the kernels they left are watched until the culler has removed them.

    .venv/bin/python -m bench.load                     # 10 visitors x 5 photos, both kinds, committed cull settings
    .venv/bin/python -m bench.load --runs 5 --cull-timeout 60 --cull-interval 10 --floor   # shorter cull wait
    .venv/bin/python -m bench.load --visitors 2        # memory target: server + pool + 2 visitors <= 1 GB

Keep the cull timeout above the page-ready time: a kernel whose page has not connected within it
is culled. `--floor` also opens as many pages of a notebook that shows only the two buttons: with
chromium on the same cores as the server, page-ready cannot beat that floor (`cpu_s` says why).

Visitors leave by closing their page without `beforeunload` (as a phone that loses the connection),
so Voila's unload-time kernel shutdown does not happen and only the culler frees their kernels.
Prints JSON.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from harness.browser import (
    ANSWER,
    CHOOSE,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    cull_args,
    floor_app,
    kernels,
    rss,
    serve,
    settings,
    tree,
)
from harness.hosts import SHARED

PHOTOS = SHARED / "bears-test"
MB = 2**20
SLACK_S = 30
TARGETS = {
    "answered": "all (50/50 for 10 visitors x 5 photos)",
    "errors": 0,
    "page_ready_max_s": 15,
    "answer_p50_s": 1.5,
    "visitor kernels gone within": "cull timeout + interval + 30 s",
    "server_tree_rss_peak_mb (--visitors 2)": 1024,
}


def photo_sets(visitors: int, k: int) -> list[list[Path]]:
    """K photos per visitor, classes interleaved, so that no two in a row share a name."""
    by_class = [sorted((PHOTOS / c).glob("*.jpg")) for c in ("grizzly", "black", "teddy")]
    if not all(by_class):
        sys.exit(f"photos not found in {PHOTOS}/{{grizzly,black,teddy}} (set BEAR_DATA)")
    interleaved = [p for group in zip(*by_class) for p in group]
    return [[interleaved[(v * k + j) % len(interleaved)] for j in range(k)] for v in range(visitors)]


async def classify(page, photo: Path, timeout_s: float, timed: dict | None = None) -> str:
    """Pick `photo` in the file chooser, wait until the app has received it, press Classify: the
    answer's text; `timed["answer_s"]`, the seconds from the press to the answer."""
    async with page.expect_file_chooser(timeout=timeout_s * 1000) as chooser:
        await page.get_by_role("button", name=CHOOSE).click()
    await (await chooser.value).set_files(str(photo))
    await page.locator(".bear-ready", has_text=photo.name).wait_for(timeout=timeout_s * 1000)
    t0 = time.perf_counter()
    await page.get_by_role("button", name="Classify").click()
    answer = page.locator(ANSWER).first
    await answer.wait_for(timeout=timeout_s * 1000)
    if timed is not None:
        timed["answer_s"] = time.perf_counter() - t0
    return (await answer.inner_text()).strip()


async def visitor(browser, url: str, photos: list[Path], ready_s: float, answer_s: float) -> dict:
    """Open the app, classify each photo after the app has received it, leave; never raises."""
    out = {"ready_s": None, "answers_s": [], "correct": 0, "errors": []}
    context = await browser.new_context()
    try:
        page = await context.new_page()
        t0 = time.perf_counter()
        await page.goto(url, timeout=ready_s * 1000)
        left = max(0.001, ready_s - (time.perf_counter() - t0))
        await page.get_by_role("button", name="Classify").wait_for(timeout=left * 1000)
        out["ready_s"] = time.perf_counter() - t0
        for photo in photos:
            timed = {}
            text = await classify(page, photo, answer_s, timed)
            if text.startswith("Prediction: "):
                out["answers_s"].append(timed["answer_s"])
                out["correct"] += text.startswith(f"Prediction: {photo.parent.name};")
            else:
                out["errors"].append(f"{photo.name}: {text}")
    except Exception as e:  # a visitor who got no app or no answer in time is an error, not a hang
        out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    finally:
        await context.close()
    return out


def sample(proc, peak: dict):
    ks = kernels(proc)
    sizes = [rss([k]) for k in ks]
    peak["kernels"] = max(peak["kernels"], len(ks))
    peak["kernel_rss"] = max(peak["kernel_rss"], sum(sizes))
    peak["per_kernel_rss"] = max([peak["per_kernel_rss"], *sizes])
    peak["tree_rss"] = max(peak["tree_rss"], rss(tree(proc)))
    server = tree(proc)
    ours = {p.pid for p in server}
    browser = [p for p in psutil.Process().children(recursive=True) if p.pid not in ours]  # playwright, chromium
    for group, procs in (("server", server), ("browser", browser)):
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            first, _ = peak["cpu"][group].get(p.pid, (t.user + t.system, 0))
            peak["cpu"][group][p.pid] = (first, t.user + t.system)


def cpu_seconds(peak: dict) -> dict:
    """CPU seconds used during the visits by the server (kernels included) and by the browser."""
    return {g: round(sum(last - first for first, last in pids.values()), 1) for g, pids in peak["cpu"].items()}


async def watch(proc, peak: dict, stop: asyncio.Event):
    while not stop.is_set():
        await asyncio.to_thread(sample, proc, peak)
        await asyncio.sleep(0.5)


async def wait_kernels(proc, count: int, timeout: float) -> int:
    """Poll until the server has at most `count` kernels or `timeout` passes; the last count."""
    deadline = time.perf_counter() + timeout
    while (n := len(kernels(proc))) > count and time.perf_counter() < deadline:
        await asyncio.sleep(1)
    return n


async def wait_for_pool(proc, pool: int, timeout: float):
    """Wait until the preheated pool has started (`pool` kernels); None if it did not in time."""
    deadline = time.perf_counter() + timeout
    while len(kernels(proc)) < pool:
        if time.perf_counter() > deadline:
            return None
        await asyncio.sleep(0.5)
    return True


def stats(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 2), "max": round(max(values), 2)} if values else None


async def one_run(browser, kind: str, args, root: Path = ROOT) -> dict:
    committed = settings(kind)
    timeout = args.cull_timeout or committed["cull_idle_timeout"]
    interval = args.cull_interval or committed["cull_interval"]
    pool = committed["pool_size"]
    with serve(kind, args=cull_args(timeout, interval), root=root) as server:
        t0 = time.perf_counter()
        if await wait_for_pool(server.proc, pool, 300) is None:
            return {
                "kind": kind,
                "errors": [f"the pool of {pool} preheated kernel(s) did not fill in 300 s"],
                "targets_met": {"pool_filled": False},
            }
        pool_ready_s = time.perf_counter() - t0  # its kernel processes exist (preheating may go on)
        peak = {"kernels": 0, "kernel_rss": 0, "per_kernel_rss": 0, "tree_rss": 0, "cpu": {"server": {}, "browser": {}}}
        sample(server.proc, peak)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(server.proc, peak, stop))
        total = args.ready_timeout + args.photos * 2 * args.answer_timeout + 30
        visits = await asyncio.gather(
            *(
                asyncio.wait_for(visitor(browser, server.url, photos, args.ready_timeout, args.answer_timeout), total)
                for photos in photo_sets(args.visitors, args.photos)
            ),
            return_exceptions=True,
        )
        stop.set()
        await watcher
        after_leave = len(kernels(server.proc))
        t_left = time.perf_counter()
        after_cull = await wait_kernels(server.proc, pool, timeout + interval + SLACK_S)
        gone_s = time.perf_counter() - t_left if after_cull <= pool else None

    visits = [
        v
        if isinstance(v, dict)
        else {"ready_s": None, "answers_s": [], "correct": 0, "errors": [f"visitor timed out after {total} s"]}
        for v in visits
    ]
    answers = [a for v in visits for a in v["answers_s"]]
    ready = [v["ready_s"] for v in visits if v["ready_s"] is not None]
    result = {
        "kind": kind,
        "visitors": args.visitors,
        "photos_each": args.photos,
        "cull_timeout_s": timeout,
        "cull_interval_s": interval,
        "pool_size": pool,
        "pool_started_s": round(pool_ready_s, 1),
        "answered": len(answers),
        "expected": args.visitors * args.photos,
        "correct": sum(v["correct"] for v in visits),
        "errors": [e for v in visits for e in v["errors"]],
        "page_ready_s": stats(ready),
        "answer_s": stats(answers),
        "peak_kernels": peak["kernels"],
        "peak_kernels_rss_mb": round(peak["kernel_rss"] / MB),
        "peak_per_kernel_rss_mb": round(peak["per_kernel_rss"] / MB),
        "peak_server_tree_rss_mb": round(peak["tree_rss"] / MB),
        "kernels_after_leave": after_leave,
        "kernels_after_cull_wait": after_cull,
        "visitor_kernels_gone_after_s": round(gone_s, 1) if gone_s is not None else None,
        # Chromium runs on the server's cores here (a visitor's phone does that work in real use):
        # page_ready cannot be shorter than browser CPU seconds / cores.
        "cpu_s": cpu_seconds(peak),
        "cores": os.cpu_count(),
    }
    result["targets_met"] = {
        "answered": result["answered"] == result["expected"],
        "errors": not result["errors"],
        "page_ready_max_s": bool(ready) and len(ready) == args.visitors and max(ready) <= 15,
        "answer_p50_s": bool(answers) and statistics.median(answers) <= 1.5,
        "visitor_kernels_gone": gone_s is not None,
    }
    if args.visitors <= 2:
        result["targets_met"]["server_tree_rss_peak_mb"] = result["peak_server_tree_rss_mb"] <= 1024
    return result


async def main(args):
    from playwright.async_api import async_playwright

    kinds = ["voila", "jupyter"] if args.kind == "both" else [args.kind]
    runs, floor = [], None
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(args.runs):
                for kind in kinds:
                    runs.append(await one_run(browser, kind, args))
            if args.floor:
                with tempfile.TemporaryDirectory() as tmp:
                    floor = await one_run(
                        browser, "voila", argparse.Namespace(**{**vars(args), "photos": 0}), floor_app(Path(tmp))
                    )
                floor = {"page_ready_s": floor["page_ready_s"], "cpu_s": floor["cpu_s"], "errors": floor["errors"]}
        finally:
            await browser.close()
    clean = {k: sum(all(r["targets_met"].values()) for r in runs if r["kind"] == k) for k in kinds}
    print(
        json.dumps(
            {"targets": TARGETS, "runs": runs, "clean_runs": clean, "runs_per_kind": args.runs, "floor": floor},
            indent=1,
        )
    )


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["voila", "jupyter", "both"], default="both")
    ap.add_argument("--visitors", type=int, default=10)
    ap.add_argument("--photos", type=int, default=5, help="photos each visitor classifies")
    ap.add_argument("--runs", type=int, default=1, help="runs per kind, each on a fresh server")
    ap.add_argument("--cull-timeout", type=int, help="seconds (default: the committed config's)")
    ap.add_argument("--cull-interval", type=int, help="seconds (default: the committed config's)")
    ap.add_argument("--ready-timeout", type=float, default=180, help="seconds a visitor waits for the app")
    ap.add_argument("--answer-timeout", type=float, default=120, help="seconds a visitor waits for each answer")
    ap.add_argument(
        "--floor",
        action="store_true",
        help="also open the same number of pages of a notebook with only the two buttons (standalone Voila)",
    )
    return ap.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
