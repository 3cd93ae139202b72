"""More visitors than memory (issue 24): a class shares one server in a memory cgroup as Binder's
container is (2 GB); N visitors arrive evenly over a period, each classifies K photos, stays on the
answer, then closes the page (no `beforeunload`). The room (bear_classifier/app/room.py) serves as
many at once as the memory holds and lines up the others (the crowd of harness/scenarios.py with
its visitors spread over the period).

- ROUTE (room-binder.json): served at once and the places the server computed, who waited and how
  long, how soon a waiting visitor had the app after a place was given back (the server's log says
  when), every photo answered, kernels killed by the out-of-memory killer, the server alive, the
  cgroup's peak and its charge per visitor, and the waiting page's time in the server (tornado's
  request time, which the server logs). The Python installation is evicted from the page cache
  first (--cold): the cgroup is charged for the library files, as a fresh container is.
- not-full-ROUTE: with the room not full nothing changes: V visitors at once on both routes, today's
  code against the code of a baseline commit in the same run (harness.servers.code_at), runs
  alternated (baseline, today, today, baseline, ...): page ready and photo -> answer, p50 against p50.
"""

import argparse
import re
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from bear_classifier.app import room
from bench.runner import BEFORE_ROOM, Result, Skip, Target, chromium, main, photos, spread
from harness import cgroup
from harness.photos import photo_sets
from harness.servers import MB, ROOT, ROUTES, code_at, serve, settings

RATIO = 1.10  # with the room not full, today's p50s within 10 % of the baseline's
LOG_LINE = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) [^\]]*\] (.*)$", re.MULTILINE)
PLACES = re.compile(r"^Room: (\d+) visitor")
WAITING_PAGE = re.compile(r"^Room full: .*the waiting page in ([\d.]+) ms, ([\d.]+) ms of them at the door")
GIVEN = "Giving the place of kernel"


def arguments(parser):
    parser.add_argument("--route", default="binder", choices=ROUTES)
    parser.add_argument("--memory-mb", type=int, default=2048, help="the server's memory cgroup")
    parser.add_argument("--visitors", type=int, default=40)
    parser.add_argument("--period", type=float, default=90, help="seconds over which the visitors arrive")
    parser.add_argument("--photos", type=int, default=2, help="photos each visitor classifies")
    parser.add_argument("--stay", type=float, default=20, help="seconds each visitor stays on the last answer")
    parser.add_argument("--log", type=Path, help="keep the server's log there")
    parser.add_argument("--cold", action=argparse.BooleanOptionalAction, default=True, help="evict the libraries first")
    parser.add_argument("--not-full-routes", default=",".join(ROUTES), help="'' skips the comparison")
    parser.add_argument("--not-full-visitors", type=int, default=10)
    parser.add_argument("--not-full-runs", type=int, default=2, help="runs of each code per route")
    parser.add_argument(
        "--baseline", default=BEFORE_ROOM, help=f"the commit whose code is the baseline (default {BEFORE_ROOM})"
    )


def events(log: str) -> list[tuple[float, str]]:
    """The server log's lines: when (time.time()) and what."""
    return [(datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f").timestamp(), what) for when, what in LOG_LINE.findall(log)]


def at_once(visits: list[dict]) -> int:
    """The most visitors that had the app open at the same time."""
    served = [v for v in visits if "ready_at" in v]
    moments = sorted([(v["ready_at"], 1) for v in served] + [(v["left"], -1) for v in served])
    most = now = 0
    for _, step in moments:
        now += step
        most = max(most, now)
    return most


def timeline(visits: list[dict], given: list[float]) -> dict:
    """Seconds since the first arrival: each visitor's arrival, let in (None: no wait), app ready and
    leaving; and each place given back."""
    t0 = min(v["arrived"] for v in visits)

    def since(t):
        return None if t is None else round(t - t0, 1)

    keys = ("arrived", "let_in", "ready_at", "left")
    return {
        "visitors (arrived, let in, ready, left)": [[since(v.get(k)) for k in keys] for v in visits],
        "places_given_back": [since(t) for t in given],
    }


def ratio(today: dict | None, before: dict | None) -> float | None:
    """p50 over p50 (None where either had no figure)."""
    return round(today["p50"] / before["p50"], 3) if today and before else None


def after_freed(visits: list[dict], given: list[float]) -> list[float]:
    """For each visitor let in from the line: seconds from the last place given back before they
    were let in to their app being ready."""
    out = []
    for v in visits:
        freed = [t for t in given if t <= v.get("let_in", 0)]
        if freed and "ready_at" in v:
            out.append(v["ready_at"] - freed[-1])
    return out


def charges(peaks: dict, idle_mb: float, pool: int, limit_mb: int, elsewhere_mb: float) -> dict:
    """What the cgroup charged (harness.servers.Peaks), with the library pages the kernels map that
    another cgroup was charged for (`elsewhere_mb`; a fresh container is charged for them), against
    the room's costs: the highest charge sampled with each count of kernels once visitors came,
    fitted as a line, whose intercept is the server with the library files (room.SERVER_MEMORY) and
    slope a kernel (room.visitor_memory); and the headroom left at the peak, which must hold the
    largest photo decode (room.DECODE_MEMORY)."""
    seen = {n: mb for n, mb in peaks["cgroup_by_kernels"].items() if n > pool}
    fit = statistics.linear_regression(list(seen), list(seen.values())) if len(seen) > 1 else None
    return {
        "limit_mb": limit_mb,
        "idle_mb": round(idle_mb),  # the server (and its preheated kernels) before any visitor
        "peak_mb": peaks["cgroup_mb"],
        "by_kernels_mb": peaks["cgroup_by_kernels"],
        "libraries_charged_elsewhere_mb": round(elsewhere_mb),
        "headroom_mb": round(limit_mb - peaks["cgroup_mb"] - elsewhere_mb),
        "server_mb": round(fit.intercept + elsewhere_mb) if fit else None,
        "per_kernel_mb": round(fit.slope, 1) if fit else None,
        "room_server_mb": room.SERVER_MEMORY // MB,
        "room_per_kernel_mb": round(room.visitor_memory(ROOT / room.MODEL) / MB, 1),
        "room_decode_mb": room.DECODE_MEMORY // MB,
        "peaks": peaks,
    }


async def full(browser, args) -> Result:
    from harness.scenarios import crowd

    folder = photos("bears-test")
    if args.cold:
        cgroup.evict([Path(sys.prefix).resolve() / "lib", Path(sys.base_prefix) / "lib", ROOT])
    with tempfile.TemporaryDirectory() as tmp:
        log = args.log or Path(tmp) / "server.log"
        with serve(args.route, log, memory_limit_mb=args.memory_mb) as server:
            pool = settings(args.route)["pool_size"]
            server.wait_for_kernels(pool, idle=True)
            idle = server.cgroup.usage() / MB
            sets = photo_sets(folder, args.visitors, args.photos)
            seen = await crowd(browser, server, sets, period_s=args.period, stay_s=args.stay)
            alive, killed = server.proc.poll() is None, server.cgroup.oom_kills()
            # library pages the visitors' kernels map that another cgroup (a process outside) was charged for
            elsewhere = max(0, server.mapped_files() - server.cgroup.stat()["total_mapped_file"]) / MB
        lines = events(log.read_text())
    places = next(int(m[1]) for _, what in lines if (m := PLACES.match(what)))
    given = [when for when, what in lines if what.startswith(GIVEN)]
    waiting_pages = [(float(m[1]), float(m[2])) for _, what in lines if (m := WAITING_PAGE.match(what))]
    visits, memory = seen["visits"], seen["memory"]
    waited = [v for v in visits if v["line"]]
    figures = {
        "visitors": seen["visitors"],
        "places": places,
        "served": seen["served"],
        "unserved": seen["unserved"],
        "served_at_once": at_once(visits),
        "visitor_kernels_peak": memory["kernels"] - pool,
        "waited": len(waited),
        "waited_s": spread([v["waited_s"] for v in waited if v["waited_s"] is not None], 1),
        "first_places": [v["line"]["place"] for v in waited[:3]],
        "waiting_page_server_ms": spread([server for server, _ in waiting_pages], 1),
        "waiting_page_door_ms": spread([door for _, door in waiting_pages], 1),  # the rest: the server's busy loop
        "waiting_page_browser_s": spread([v["waiting_page_s"] for v in waited]),
        "places_given_back": len(given),
        "served_after_place_freed_s": spread(after_freed(visits, given), 1),
        "page_ready_s": spread(seen["ready_s"], 1),
        "answer_s": spread(seen["answers_s"]),
        "answered": seen["answered"],
        "expected": seen["expected"],
        "unanswered": seen["unanswered"],
        "correct": seen["correct"],
        "errors": seen["errors"],
        "oom_kills": killed,
        "server_alive": int(alive),
        "memory": charges(memory, idle, pool, args.memory_mb, elsewhere),
        "wall_s": seen["wall_s"],
        "timeline_s": timeline(visits, given),
    }
    targets = [
        Target("unserved", 0),
        Target("unanswered", 0),
        Target("oom_kills", 0),
        Target("server_alive", 1, at_least=True),
        Target("visitor_kernels_peak", places, at_least=True),  # the room admits as many as it computes
        Target("waiting_page_server_ms.max", 2000),
        Target("served_after_place_freed_s.max", 60),
        Target("memory.per_kernel_mb", figures["memory"]["room_per_kernel_mb"]),  # the room's costs hold
        Target("memory.headroom_mb", room.DECODE_MEMORY // MB, at_least=True),
    ]
    return Result(figures, targets, args.route)


async def one_crowd(browser, route: str, root: Path, args) -> dict:
    from harness.scenarios import crowd

    sets = photo_sets(photos("bears-test"), args.not_full_visitors, args.photos)
    with serve(route, root=root, memory_limit_mb=args.memory_mb) as server:
        server.wait_for_kernels(settings(route)["pool_size"], idle=True)
        return await crowd(browser, server, sets)


async def not_full(browser, route: str, baseline: Path, args) -> Result:
    """Today's code and the baseline's, alternated, on `route`: p50s and their ratios."""
    seen = {"today": [], "baseline": []}
    for i in range(args.not_full_runs):
        for code in ("baseline", "today") if i % 2 == 0 else ("today", "baseline"):
            seen[code].append(await one_crowd(browser, route, ROOT if code == "today" else baseline, args))

    def summary(runs: list[dict]) -> dict:
        return {
            "page_ready_s": spread([s for r in runs for s in r["ready_s"]]),
            "answer_s": spread([s for r in runs for s in r["answers_s"]]),
            "unanswered": sum(r["unanswered"] for r in runs),
            "waited": sum(r["waited"] for r in runs),
            "errors": [e for r in runs for e in r["errors"]],
            "runs_page_ready_p50_s": [spread(r["ready_s"])["p50"] for r in runs if r["ready_s"]],
            "runs_answer_p50_s": [spread(r["answers_s"])["p50"] for r in runs if r["answers_s"]],
        }

    today, before = summary(seen["today"]), summary(seen["baseline"])
    figures = {
        "visitors": args.not_full_visitors,
        "runs": args.not_full_runs,
        "baseline_commit": args.baseline,
        "page_ready_ratio": ratio(today["page_ready_s"], before["page_ready_s"]),
        "answer_ratio": ratio(today["answer_s"], before["answer_s"]),
        "today": today,
        "baseline": before,
    }
    targets = [
        Target("page_ready_ratio", RATIO),
        Target("answer_ratio", RATIO),
        Target("today.waited", 0),
        Target("today.unanswered", 0),
    ]
    return Result(figures, targets, f"not-full-{route}")


async def run(args):
    from harness.browser import launch

    chromium()
    photos("bears-test")
    why = cgroup.unavailable()
    if why:
        raise Skip(f"no memory cgroup: {why}")
    routes = [r for r in args.not_full_routes.split(",") if r]
    async with launch() as browser:
        results = [await full(browser, args)]
        if routes:
            with code_at(args.baseline) as baseline:
                results += [await not_full(browser, route, baseline, args) for route in routes]
    return results


if __name__ == "__main__":
    main()
