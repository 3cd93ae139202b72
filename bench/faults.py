"""What a visitor gets when kernels die, the server restarts or a class arrives at once, on both
routes (the scenarios of harness/scenarios.py, which tests/test_faults.py asserts):

- crowd: V visitors x K photos arrive at once on a freshly started server: every visitor served,
  every photo answered, and the server's memory meanwhile; the baseline, in the same run: as many
  pages of a notebook that shows only two buttons (`voila bears.ipynb`).
- pool (voila only): the idle preheated kernel is killed; the next visitor's time to an answer,
  arriving at once and 5 s later.
- kill: a phone visitor's kernel is killed (SIGKILL, as the out-of-memory killer does): how soon
  the page says so; Reload gives an answer.
- restart: the server restarts with a phone page open: how soon the page says so; Reload works.
- sleep: a phone page is frozen for 20 s and its sockets cut (a phone asleep): awake, it answers.
Phones: 360 px touch pages on emulated 4G."""

import tempfile
from pathlib import Path

from bench.runner import Result, Target, chromium, main, photos, spread
from harness.photos import photo_sets
from harness.servers import ROOT, ROUTES, serve, settings, two_button_app

FAULTS = ("crowd", "pool", "kill", "restart", "sleep")


def targets(route: str, faults: list[str]) -> list[Target]:
    out = []
    if "crowd" in faults:
        out += [Target("crowd.unserved", 0), Target("crowd.unanswered", 0)]
    if "pool" in faults and route == "voila":
        out += [Target("pool.at_once.answer_s", 30), Target("pool.after_5_s.answer_s", 30)]
    if "kill" in faults:
        out += [Target("kill.notice_s", 10), Target("kill.reload_answers", 1, at_least=True)]
    if "restart" in faults:
        out += [Target("restart.notice_s", 10), Target("restart.reload_answers", 1, at_least=True)]
    if "sleep" in faults:
        out += [Target("sleep.answers_again", 1, at_least=True)]
    return out


def arguments(parser):
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--photos", type=int, default=3, help="photos each visitor of the crowd classifies")
    parser.add_argument("--crowd-runs", type=int, default=1, help="crowds per route, each on a fresh server")


async def crowd(browser, route: str, sets: list[list[Path]], root: Path | None = None) -> dict:
    from harness import scenarios

    with serve(route, root=root or ROOT) as server:
        server.wait_for_kernels(settings(route)["pool_size"])
        seen = await scenarios.crowd(browser, server, sets)
    return {
        "served": seen["served"],
        "unserved": seen["visitors"] - seen["served"],
        "answered": seen["answered"],
        "unanswered": seen["expected"] - seen["answered"],
        "errors": seen["errors"],
        "page_ready_s": spread(seen["ready_s"], 1),
        "wall_s": seen["wall_s"],
        "memory": seen["memory"],
    }


def crowds(runs: list[dict], baseline: dict | None) -> dict:
    """The worst of the crowd runs for the targets, every run, and the two-button baseline."""
    return {
        "unserved": max(r["unserved"] for r in runs),
        "unanswered": max(r["unanswered"] for r in runs),
        "clean_runs": sum(not r["unserved"] and not r["unanswered"] and not r["errors"] for r in runs),
        "runs": runs,
        "two_button_baseline": baseline,
    }


async def one_route(browser, route: str, args, baseline: dict | None) -> Result:
    from harness import scenarios

    faults, folder = args.faults.split(","), photos("bears-test")
    photo, other = photo_sets(folder, 1, 2)[0]
    seen = {}
    if "crowd" in faults:
        sets = photo_sets(folder, args.visitors, args.photos)
        seen["crowd"] = crowds([await crowd(browser, route, sets) for _ in range(args.crowd_runs)], baseline)
    if "pool" in faults and route == "voila":
        pool = [await scenarios.pool_killed(browser, photo, wait_s) for wait_s in (0, 5)]
        seen["pool"] = {"at_once": pool[0], "after_5_s": pool[1]}
    if "kill" in faults:
        seen["kill"] = await scenarios.kernel_killed(browser, route, photo)
    if "restart" in faults:
        seen["restart"] = await scenarios.server_restarted(browser, route, photo)
    if "sleep" in faults:
        with tempfile.TemporaryDirectory() as tmp:
            seen["sleep"] = await scenarios.phone_asleep(browser, route, (photo, other), Path(tmp) / "server.log")
    for part in ("kill", "restart", "sleep"):  # booleans as 0/1, for the targets
        for key in ("reload_answers", "answers_again"):
            if key in seen.get(part, {}):
                seen[part][key] = int(seen[part][key])
    return Result(seen, targets(route, faults), route)


async def run(args):
    from harness.browser import launch

    chromium()
    photos("bears-test")
    async with launch() as browser:
        baseline = None
        if "crowd" in args.faults.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                sets = [[] for _ in range(args.visitors)]
                plain = await crowd(browser, "voila", sets, two_button_app(Path(tmp)))
            baseline = {k: plain[k] for k in ("served", "page_ready_s", "errors")}
        return [await one_route(browser, route, args, baseline) for route in args.routes.split(",")]


if __name__ == "__main__":
    main()
