"""What a visitor gets when things break, in real servers and chromium, on both routes: a dead
preheated kernel is never handed out; a page whose kernel died, or whose server restarted, says
so and its Reload button brings the app back; a small crowd on a freshly started server is
served. The scenarios are harness/scenarios.py's, which bench/faults.py times."""

import pytest

from bear_classifier.app.watchdog import NOTICE, Watchdog
from harness import scenarios
from harness.photos import photo_sets
from harness.servers import ROUTES, serve, settings
from helpers import ARTIFACTS, first_photo, published


def test_watchdog_answers_each_ping(monkeypatch):
    dog, sent = Watchdog(), []
    monkeypatch.setattr(dog, "send", sent.append)
    dog._answer(dog, {"ping": 7}, [])
    dog._answer(dog, {"other": 1}, [])
    assert sent == [{"pong": 7}]


async def test_a_dead_preheated_kernel_is_never_handed_out(chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    seen = await scenarios.pool_killed(chromium, first_photo("grizzly"), log=ARTIFACTS / "voila-pool-killed.log")
    assert seen["answered"] and seen["answer"].startswith("Prediction: grizzly"), seen


@pytest.mark.parametrize("route", ROUTES)
async def test_a_page_whose_kernel_died_says_so_and_reloads(route, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    seen = await scenarios.kernel_killed(chromium, route, first_photo("grizzly"), ARTIFACTS / f"{route}-killed.log")
    assert seen["answered_before"] and not seen["lost_while_loading"] and not seen["lost_before"], seen
    assert seen["notice"].startswith(NOTICE) and seen["fits"], seen
    assert seen["reload_answers"], seen


@pytest.mark.parametrize("route", ROUTES)
async def test_a_page_whose_server_restarted_says_so_and_reloads(route, chromium):
    seen = await scenarios.server_restarted(chromium, route, first_photo("grizzly"))
    assert seen["answered_before"] and seen["notice"].startswith(NOTICE) and seen["fits"], seen
    assert seen["reload_answers"], seen


@pytest.mark.parametrize("route", ROUTES)
async def test_a_crowd_on_a_fresh_server_is_served(route, chromium):
    with serve(route) as server:
        server.wait_for_kernels(settings(route)["pool_size"])
        seen = await scenarios.crowd(chromium, server, photo_sets(published("bears-test"), 4, 1))
    assert seen["served"] == 4 and seen["answered"] == seen["correct"] == 4 and not seen["errors"], seen
