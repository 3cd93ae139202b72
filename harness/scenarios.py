"""What visitors do, written once: the tests assert what these return, the benchmarks time them.

Each scenario starts what it needs (a server on a route, pages in a launched chromium) and returns
what a visitor saw, as a dict; none raises for a visitor's failure: it is reported in the dict.
Kernels are killed with SIGKILL, as the out-of-memory killer does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from harness.browser import Visit
from harness.servers import MemorySampler, Server, free_port, serve, settings


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"


async def visitor(
    browser,
    url: str,
    photos: list[Path],
    ready_timeout_s: float = 180,
    answer_timeout_s: float = 120,
    phone: bool = False,
    profile: str | None = None,
    stay_s: float = 0,
    line_timeout_s: float = 600,
) -> dict:
    """Open the app, waiting in line first where the room is full; classify each photo in turn; stay
    `stay_s` on the last answer; leave (the page closed without `beforeunload`, as a phone that loses
    the connection). Seconds until the app was ready (since it was asked for: on arriving, or on being
    let in from the line), from choosing each photo to its answer, how many answers named the photo's
    folder, and what went wrong; what the waiting page said (None: the app came at once), how soon it
    showed and how long the visitor waited; and when (time.time()) the visitor arrived, was let in,
    had the app ready and left."""
    out = {"ready_s": None, "answers_s": [], "correct": 0, "errors": [], "line": None, "waited_s": None}
    visit = await Visit.start(browser, phone, profile)
    out["arrived"], asked = time.time(), time.perf_counter()
    try:
        await visit.open(url, ready_timeout_s, wait=False)
        out["line"] = await visit.line(ready_timeout_s)
        if out["line"]:
            out["waiting_page_s"] = time.perf_counter() - asked
            out["waited_s"] = out["waiting_page_s"] + await visit.let_in(line_timeout_s)
            out["let_in"], asked = time.time(), time.perf_counter()
        out["ready_s"] = await visit.ready(ready_timeout_s, since=asked)
        out["ready_at"] = time.time()
        for photo in photos:
            answer = await visit.classify(photo, answer_timeout_s)
            if answer.ok:
                out["answers_s"].append(answer.seconds)
                out["correct"] += answer.label == photo.parent.name
            else:
                out["errors"].append(f"{photo.name}: {answer.text}")
        await asyncio.sleep(stay_s)
    except Exception as e:  # a visitor who got no app or no answer in time is an error, not a hang
        out["errors"].append(_error(e))
    finally:
        await visit.close()
        out["left"] = time.time()
    return out


async def crowd(browser, server: Server, photo_sets: list[list[Path]], period_s: float = 0, **visitor_options) -> dict:
    """One visitor per photo set arrives on `server`, all at once or evenly over `period_s` seconds:
    who was served, who waited in line, what was answered, the server's memory meanwhile
    (harness.servers.Peaks), and what each visitor saw (`visits`)."""

    async def arrive(i: int, photos: list[Path]) -> dict:
        await asyncio.sleep(i * period_s / len(photo_sets))
        return await visitor(browser, server.url, photos, **visitor_options)

    with MemorySampler(server) as peaks:
        t0 = time.perf_counter()
        visits = await asyncio.gather(*(arrive(i, p) for i, p in enumerate(photo_sets)))
        wall = time.perf_counter() - t0
    served, answered = sum(v["ready_s"] is not None for v in visits), sum(len(v["answers_s"]) for v in visits)
    return {
        "visitors": len(photo_sets),
        "served": served,
        "unserved": len(photo_sets) - served,
        "waited": sum(v["line"] is not None for v in visits),
        "answered": answered,
        "expected": sum(map(len, photo_sets)),
        "unanswered": sum(map(len, photo_sets)) - answered,
        "correct": sum(v["correct"] for v in visits),
        "errors": [e for v in visits for e in v["errors"]],
        "ready_s": [v["ready_s"] for v in visits if v["ready_s"] is not None],
        "answers_s": [a for v in visits for a in v["answers_s"]],
        "wall_s": round(wall, 1),
        "memory": peaks.figures(),
        "visits": visits,
    }


async def pool_killed(browser, photo: Path, wait_s: float = 0, log: Path | None = None) -> dict:
    """`voila bears.ipynb`: its idle preheated kernel is killed; `wait_s` later a visitor opens the
    app and classifies: whether they got an answer, and how long after opening the page."""
    with serve("voila", log) as server:
        (pooled,) = await asyncio.to_thread(server.wait_for_kernels, 1, True)
        pooled.kill()
        await asyncio.sleep(wait_s)
        visit = await Visit.start(browser)
        t0 = time.perf_counter()
        try:
            await visit.open(server.url, 60)
            answer = await visit.classify(photo, 60)
            out = {"answered": answer.ok, "answer": answer.text, "answer_s": round(time.perf_counter() - t0, 1)}
        except Exception as e:
            out = {"answered": False, "error": _error(e)}
        await visit.close()
    return {"visitor_after_s": wait_s, **out}


async def _answers_again(visit: Visit, photo: Path) -> bool:
    """Press the notice's Reload button: a working app answers again, and the notice is gone."""
    await visit.press_reload()
    return (await visit.classify(photo)).ok and not await visit.lost()


async def kernel_killed(browser, route: str, photo: Path, log: Path | None = None) -> dict:
    """A phone visitor classifies, then their kernel is killed: the page says so (how soon, in what
    words, within the phone's width); Reload brings a working app."""
    with serve(route, log) as server:
        pooled = {k.pid for k in await asyncio.to_thread(server.wait_for_kernels, settings(route)["pool_size"], True)}
        visit = await Visit.start(browser, phone=True, profile="4g")
        await visit.open(server.url)
        out = {"lost_while_loading": await visit.lost()}  # a page still connecting is not a lost one
        out["answered_before"] = (await visit.classify(photo)).ok
        out["lost_before"] = await visit.lost()
        # voila: the visitor took the preheated kernel (a new one refills the pool); binder: the only one
        next(k for k in server.kernels() if k.pid in pooled or not pooled).kill()
        out |= await visit.notice(time.perf_counter())
        out["reload_answers"] = await _answers_again(visit, photo)
        await visit.close()
    return out


async def server_restarted(browser, route: str, photo: Path) -> dict:
    """A phone page is open when its server restarts on the same port: the page says so; Reload works."""
    port = free_port()
    with serve(route, port=port) as server:
        visit = await Visit.start(browser, phone=True, profile="4g")
        await visit.open(server.url)
        answered = (await visit.classify(photo)).ok
    t0 = time.perf_counter()  # the server and its kernels are gone
    with serve(route, port=port):
        out = {"answered_before": answered, "restarted_s": round(time.perf_counter() - t0, 1)}
        out |= await visit.notice(t0)
        out["reload_answers"] = await _answers_again(visit, photo)
    await visit.close()
    return out


async def phone_asleep(browser, route: str, photos: tuple[Path, Path], log: Path, asleep_s: float = 20) -> dict:
    """A phone classifies, sleeps `asleep_s` (its page frozen, its sockets cut), wakes and classifies
    again: whether it answered, how soon, and whether a notice is left on the page."""
    with serve(route, log) as server:
        visit = await Visit.start(browser, phone=True, profile="4g", relay_sockets=True)
        await visit.open(server.url)
        await visit.classify(photos[0])
        reset = len(visit.sockets)
        await visit.sleep(asleep_s)
        try:
            answer = await visit.classify(photos[1])
            out = {"answers_again": answer.ok, "answer_s": round(answer.seconds, 1)}
        except Exception as e:
            out = {"answers_again": False, "error": _error(e)}
        out |= {
            "sockets_reset": reset,
            "sockets_opened_after": len(visit.sockets) - reset,
            "server_saw_the_reset": "Starting buffering" in log.read_text(),
            "notice_after": await visit.lost(),
        }
        await visit.close()
    return out


async def phone_opens(browser, server: Server, profile: str) -> dict:
    """A phone on the network `profile` opens the app (first visit, empty cache): seconds until it
    was ready, and what it cost."""
    visit = await Visit.start(browser, phone=True, profile=profile)
    try:
        await visit.open(server.url, 180)
        return {"page_ready_s": round(visit.ready_s, 2), "first_visit": visit.network.summary(server.url)}
    finally:
        await visit.close()


async def phone_visit(browser, server: Server, photo: Path, profile: str) -> dict:
    """A phone on the network `profile` opens the app (first visit, empty cache), chooses `photo` and
    reads its answer (nothing pressed), then visits again (same cache): what it cost and how long it
    took, the bytes sent for the photo and the bytes of images the kernel sent back meanwhile."""
    visit = await Visit.start(browser, phone=True, profile=profile)
    await visit.open(server.url, 180)
    first = visit.network.summary(server.url)
    net = visit.network
    t0 = time.perf_counter()
    await visit.choose(photo, 180)
    await visit.sent(photo.name, 180)
    received = time.perf_counter() - t0
    answer = await visit.answer(180)
    answered = time.perf_counter() - t0
    # decoded, upright and shrunk: its first chunk left
    shrunk = min(f.at for f in net.frames if f.sent and f.buffers and f.at >= t0) - t0
    out = {
        "first_visit": first,
        "page_ready_s": round(visit.ready_s, 2),
        "chosen_s": {"shrunk": shrunk, "received": received, "answered": answered},
        "sent_bytes": net.ws_bytes(sent=True, since=t0),
        "received_bytes": net.ws_bytes(sent=False, since=t0),
        "image_bytes_received": sum(map(len, net.ws_buffers(sent=False, since=t0))),
        "answer": answer.text,
        "label": answer.label,
    }
    await visit.revisit(server.url, 180)
    out["repeat_visit"] = visit.network.summary(server.url) | {"page_ready_s": round(visit.ready_s, 2)}
    await visit.close()
    return out
