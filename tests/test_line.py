"""The waiting line in chromium, on both routes with the room set to two visitors: the third and later
visitors get the waiting page with their place; one who leaves the line lets those behind move up; a
place given back lets the head of the line into the app; a visitor whose place was given away is told
so, and Reload puts them in line. (tests/test_room.py holds the same door over HTTP, without a browser;
bench/room.py times a class of 40.)"""

import asyncio
import time

import pytest

from bear_classifier.app import room
from bear_classifier.app.watchdog import GIVEN
from harness.browser import Visit
from harness.servers import ROUTES, serve, settings
from helpers import ARTIFACTS, first_photo

NEXT = "You are next in line."
AWAY_S = 5  # Room.away, shorter than the served 20 s: a page gone this long gives its place
GONE_S = AWAY_S + 4  # the door looks each second


@pytest.mark.parametrize("route", ROUTES)
async def test_a_full_room_lines_visitors_up_and_lets_them_in_turn(route, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(route, ARTIFACTS / f"{route}-line.log", ["--Room.places=2", f"--Room.away={AWAY_S}"]) as server:
        server.wait_for_kernels(settings(route)["pool_size"], idle=True)
        phone = await (await Visit.start(chromium, phone=True, relay_sockets=True)).open(server.url)
        desktop = await (await Visit.start(chromium)).open(server.url)

        waiting = [await Visit.start(chromium) for _ in range(3)]
        said = []
        for visit in waiting:
            await visit.open(server.url, wait=False)
            said.append(await visit.line())
        third, fourth, fifth = waiting
        assert said[0] == {
            "heading": "The app is full right now",
            "place": NEXT,
            "wait": "Estimated wait: not known yet: nobody has left since the server started.",
        }
        assert [s["place"] for s in said[1:]] == ["You are number 2 in line.", "You are number 3 in line."]

        # at once: the fourth leaves the line, the desktop visitor closes the app, the phone loses its network
        away = asyncio.create_task(phone.offline(GONE_S + 2))
        await fourth.close()
        await desktop.close()
        await fifth.moved_to("You are number 2 in line.", room.LEAVE_S + 5)

        await third.let_in(GONE_S + 5)
        await third.ready()
        answer = await third.classify(first_photo("grizzly"))
        assert answer.text.startswith("Prediction: grizzly"), answer
        await fifth.let_in(10)  # the phone's place

        await asyncio.wait_for(away, GONE_S + 30)
        seen = await phone.notice(time.perf_counter(), 30, saying=GIVEN)
        assert seen["notice"].startswith(GIVEN) and seen["fits"], seen
        await phone.press_reload(wait=False)
        assert (await phone.line())["place"] == NEXT
        for visit in (phone, third, fifth):
            await visit.close()
