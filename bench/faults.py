"""What a visitor gets when kernels die or the server restarts, on both routes (the scenarios of
harness/scenarios.py, which tests/test_faults.py asserts; a class arriving at once is `load`'s):

- pool (voila only): the idle preheated kernel is killed; the next visitor's time to an answer,
  arriving at once and 5 s later.
- kill: a phone visitor's kernel is killed (SIGKILL, as the out-of-memory killer does): how soon
  the page says so; Reload gives an answer.
- restart: the server restarts with a phone page open: how soon the page says so; Reload works.
- sleep: a phone page is frozen for 20 s and its sockets cut (a phone asleep): awake, it answers.
Phones: 360 px touch pages on emulated 4G."""

import tempfile
from pathlib import Path

from bench.runner import Result, Target, chromium, main, photos
from harness.photos import photo_sets
from harness.servers import ROUTES

FAULTS = ("pool", "kill", "restart", "sleep")


def targets(route: str, faults: list[str]) -> list[Target]:
    out = []
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


async def one_route(browser, route: str, faults: list[str]) -> Result:
    from harness import scenarios

    photo, other = photo_sets(photos("bears-test"), 1, 2)[0]
    seen = {}
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
        return [await one_route(browser, route, args.faults.split(",")) for route in args.routes.split(",")]


if __name__ == "__main__":
    main()
