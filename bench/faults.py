"""Fault benchmark: what a visitor gets when kernels die, the server restarts or a class arrives at
once, through `voila bears.ipynb` and, as on Binder, `jupyter server` (/voila/render/bears.ipynb).

    python -m bench.faults                          # every fault, one crowd run per route
    python -m bench.faults --crowd-runs 5 --floor   # the issue's numbers, with the two-button floor
    python -m bench.faults --faults pool,kill --kinds voila

Faults (kernels are killed with SIGKILL, as the out-of-memory killer does):
- crowd: V visitors x K photos arrive at once on a freshly started server: every visitor served,
  every photo answered; the server's and each visitor kernel's peak RSS give the visitors that one
  Binder session (2 GB) holds. `--floor` opens as many pages of a two-button notebook.
- pool (voila only): the idle preheated kernel is killed; the next visitor's time to an answer.
- kill: a phone visitor's kernel is killed; time until the page says so, then Reload gives an answer.
- restart: the server restarts with a phone page open; time until the page says so, then Reload.
- sleep: a phone page is frozen for 20 s and its sockets reset (as a phone asleep): awake, it answers again.
Phones: 360 px touch pages on emulated 4G (60 ms latency, 9 Mbps down, 3 Mbps up). Prints JSON.
"""

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.load import classify, photo_sets, visitor, wait_for_pool
from harness.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOST,
    PHONE,
    PROFILES,
    ROOT,
    floor_app,
    free_port,
    idle_kernels,
    kernels,
    rss,
    serve,
    settings,
    tree,
)

MB = 2**20
BINDER_MB = 2048
TARGETS = {
    "crowd": "every visitor served, every photo answered",
    "pool_answer_s": 30,
    "kill_notice_s": 10,
    "restart_notice_s": 10,
    "sleep": "answers again after waking",
}


async def phone(browser):
    """A 360 px touch page on emulated 4G."""
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", {"offline": False, **PROFILES["4g"]})
    return page, cdp


async def open_app(page, url: str, timeout_s: float = 120):
    await page.goto(url, timeout=timeout_s * 1000)
    await page.get_by_role("button", name="Classify").wait_for(timeout=timeout_s * 1000)


async def notice_after(page, t0: float, timeout_s: float = 60) -> dict:
    """Seconds from t0 until the page says the app stopped answering, its text, and whether the
    notice and its Reload button fit the page's width."""
    notice = page.locator(LOST)
    await notice.wait_for(state="visible", timeout=timeout_s * 1000)
    seconds = time.perf_counter() - t0
    box = await notice.bounding_box()
    width = await page.evaluate("document.documentElement.clientWidth")
    return {
        "notice_s": round(seconds, 1),
        "notice": (await notice.inner_text()).strip().replace("\n", " "),
        "fits": box["x"] >= 0 and box["x"] + box["width"] <= width,
    }


async def reload_answers(page, photo: Path) -> bool:
    """Press the notice's Reload button: a working app answers again."""
    async with page.expect_navigation(timeout=60_000):
        await page.get_by_role("button", name="Reload").click()
    await page.get_by_role("button", name="Classify").wait_for(timeout=120_000)
    return (await classify(page, photo, 60)).startswith("Prediction: ")


async def fault_pool(browser, photo: Path, wait_s: float) -> dict:
    """Kill the idle preheated kernel, wait `wait_s`, then a visitor opens the app and classifies."""
    with serve("voila") as server:
        (pooled,) = await asyncio.to_thread(idle_kernels, server.proc, 1)
        pooled.kill()
        await asyncio.sleep(wait_s)
        context = await browser.new_context()
        page = await context.new_page()
        t0 = time.perf_counter()
        try:
            await open_app(page, server.url, 60)
            answer = await classify(page, photo, 60)
            out = {"answer_s": round(time.perf_counter() - t0, 1), "answered": answer.startswith("Prediction: ")}
        except Exception as e:
            out = {"answer_s": None, "answered": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
        await context.close()
    return {"killed_after_idle": True, "visitor_after_s": wait_s, **out}


async def fault_kill(browser, kind: str, photo: Path) -> dict:
    """A phone visitor classifies, their kernel is killed: the page says so; Reload works again."""
    with serve(kind) as server:
        await asyncio.to_thread(idle_kernels, server.proc, settings(kind)["pool_size"])
        before = {k.pid for k in kernels(server.proc)}
        page, _ = await phone(browser)
        await open_app(page, server.url)
        ok = (await classify(page, photo, 60)).startswith("Prediction: ")
        # voila: the visitor took the preheated kernel (a new one refills the pool); jupyter: the only one
        next(k for k in kernels(server.proc) if k.pid in before or kind == "jupyter").kill()
        t0 = time.perf_counter()
        out = {"answered_before": ok, **await notice_after(page, t0)}
        out["reload_answers"] = await reload_answers(page, photo)
        await page.context.close()
    return out


async def fault_restart(browser, kind: str, photo: Path) -> dict:
    """A phone page is open when the server restarts (same port): the page says so; Reload works."""
    port = free_port()
    with serve(kind, port=port) as server:
        page, _ = await phone(browser)
        await open_app(page, server.url)
        ok = (await classify(page, photo, 60)).startswith("Prediction: ")
    t0 = time.perf_counter()  # the server and its kernels are gone
    with serve(kind, port=port) as server:
        out = {"answered_before": ok, "restarted_s": round(time.perf_counter() - t0, 1), **await notice_after(page, t0)}
        out["reload_answers"] = await reload_answers(page, photo)
    await page.context.close()
    return out


async def fault_sleep(browser, kind: str, photos: list[Path], log: Path, asleep_s: float = 20) -> dict:
    """A phone sleeps for `asleep_s`: its page is frozen and its sockets are reset (both ends closed);
    when it wakes, the page must answer again."""
    photo, other = photos
    with serve(kind, log) as server:
        page, cdp = await phone(browser)
        sockets = []

        async def through(ws):  # every websocket of the page, passed on to the server
            sockets.append((ws, ws.connect_to_server()))

        await page.route_web_socket(lambda url: True, through)
        await open_app(page, server.url)
        await classify(page, photo, 60)
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        reset = len(sockets)
        for ws, upstream in sockets:
            await upstream.close()
            await ws.close()
        await asyncio.sleep(asleep_s)
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})
        t0 = time.perf_counter()
        try:
            answer = await classify(page, other, 60)
            out = {"answers_again": answer.startswith("Prediction: "), "answer_s": round(time.perf_counter() - t0, 1)}
        except Exception as e:
            out = {"answers_again": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
        out.update(
            sockets_reset=reset,
            sockets_opened_after=len(sockets) - reset,
            server_saw_the_reset="Starting buffering" in log.read_text(),
            notice_after=await page.locator(LOST).is_visible(),
        )
        await page.context.close()
    return out


async def sample(proc, peak: dict, stop: asyncio.Event):
    """Peak RSS of the server process alone, of its largest kernel, and of all of them together."""
    while not stop.is_set():
        try:
            peak["server"] = max(peak["server"], psutil.Process(proc.pid).memory_info().rss)
        except psutil.NoSuchProcess:
            pass
        peak["tree"] = max(peak["tree"], rss(tree(proc)))
        peak["kernel"] = max([peak["kernel"], *(rss([k]) for k in kernels(proc))])
        await asyncio.sleep(0.5)


async def crowd(browser, kind: str, visitors: int, photos: int, root: Path = ROOT) -> dict:
    """`visitors` x `photos` at once on a freshly started server."""
    with serve(kind, root=root) as server:
        await wait_for_pool(server.proc, settings(kind)["pool_size"], 120)
        peak, stop = {"server": 0, "kernel": 0, "tree": 0}, asyncio.Event()
        watcher = asyncio.create_task(sample(server.proc, peak, stop))
        t0 = time.perf_counter()
        visits = await asyncio.gather(
            *(visitor(browser, server.url, p, 180, 120) for p in photo_sets(visitors, photos))
        )
        wall = time.perf_counter() - t0
        stop.set()
        await watcher
    ready = [v["ready_s"] for v in visits if v["ready_s"] is not None]
    return {
        "kind": kind,
        "served": len(ready),
        "visitors": visitors,
        "answered": sum(len(v["answers_s"]) for v in visits),
        "expected": visitors * photos,
        "errors": [e for v in visits for e in v["errors"]],
        "page_ready_s": {"p50": round(statistics.median(ready), 1), "max": round(max(ready), 1)} if ready else None,
        "wall_s": round(wall, 1),
        "peak_server_mb": round(peak["server"] / MB),
        "peak_kernel_mb": round(peak["kernel"] / MB),
        "peak_server_and_kernels_mb": round(peak["tree"] / MB),
    }


def capacity(runs: list[dict]) -> dict | None:
    """Visitors one 2 GB Binder session holds: the server's peak and one kernel's peak per visitor."""
    binder = [r for r in runs if r["kind"] == "jupyter" and r["peak_kernel_mb"]]
    if not binder:
        return None
    server, kernel = max(r["peak_server_mb"] for r in binder), max(r["peak_kernel_mb"] for r in binder)
    return {"limit_mb": BINDER_MB, "server_mb": server, "kernel_mb": kernel, "visitors": (BINDER_MB - server) // kernel}


async def main(args):
    from playwright.async_api import async_playwright

    photo = photo_sets(1, 1)[0][0]
    report = {"targets": TARGETS, "cores": os.cpu_count(), "load_1min_start": round(os.getloadavg()[0], 1)}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if "pool" in args.faults and "voila" in args.kinds:
                report["pool"] = [await fault_pool(browser, photo, wait_s) for wait_s in (0, 5)]
            for fault, run in (("kill", fault_kill), ("restart", fault_restart)):
                if fault in args.faults:
                    report[fault] = {kind: await run(browser, kind, photo) for kind in args.kinds}
            if "sleep" in args.faults:
                with tempfile.TemporaryDirectory() as tmp:
                    report["sleep"] = {
                        kind: await fault_sleep(browser, kind, photo_sets(1, 2)[0], Path(tmp) / kind)
                        for kind in args.kinds
                    }
            if "crowd" in args.faults:
                runs = [
                    await crowd(browser, kind, args.visitors, args.photos)
                    for _ in range(args.crowd_runs)
                    for kind in args.kinds
                ]
                clean = {
                    k: sum(
                        r["served"] == r["visitors"] and r["answered"] == r["expected"] and not r["errors"]
                        for r in runs
                        if r["kind"] == k
                    )
                    for k in args.kinds
                }
                report["crowd"] = {
                    "runs": runs,
                    "clean_runs": clean,
                    "runs_per_kind": args.crowd_runs,
                    "binder_capacity": capacity(runs),
                }
                if args.floor:
                    with tempfile.TemporaryDirectory() as tmp:
                        floor = await crowd(browser, "voila", args.visitors, 0, floor_app(Path(tmp)))
                    report["crowd"]["floor"] = {
                        "page_ready_s": floor["page_ready_s"],
                        "served": floor["served"],
                        "errors": floor["errors"],
                    }
        finally:
            await browser.close()
    report["load_1min_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(report, indent=1))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faults", type=lambda s: s.split(","), default=["pool", "kill", "restart", "sleep", "crowd"])
    ap.add_argument("--kinds", type=lambda s: s.split(","), default=["voila", "jupyter"])
    ap.add_argument("--visitors", type=int, default=10)
    ap.add_argument("--photos", type=int, default=3, help="photos each visitor of the crowd classifies")
    ap.add_argument("--crowd-runs", type=int, default=1, help="crowds per route, each on a fresh server")
    ap.add_argument("--floor", action="store_true", help="also a crowd of pages of a two-button notebook (voila)")
    return ap.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
