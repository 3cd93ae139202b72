"""What a visitor gets when things break, in real servers and chromium, through `voila bears.ipynb`
and, as on Binder, `jupyter server`: a dead preheated kernel is never handed out; a page whose kernel
died, or whose server restarted, says so and its Reload button brings the app back; a small crowd on
a freshly started server is served. (Times are measured by bench/faults.py, not asserted here.)"""

import pytest

from bear_classifier.app.watchdog import Watchdog
from harness.browser import LOST, PHONE, classify_file, free_port, idle_kernels, kernels, open_app, serve, settings
from helpers import ARTIFACTS, first_photo

KINDS = ["voila", "jupyter"]
WAIT_MS = 60_000


def says_so_and_reloads(page):
    """The page says the app stopped answering, within the phone's width; Reload brings the app back."""
    notice = page.locator(LOST)
    notice.wait_for(state="visible", timeout=WAIT_MS)
    assert "stopped answering" in notice.inner_text()
    box = notice.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["viewport"]["width"]
    with page.expect_navigation(timeout=WAIT_MS):
        page.get_by_role("button", name="Reload").click()
    page.get_by_role("button", name="Classify").wait_for(timeout=WAIT_MS)
    assert page.locator(LOST).is_hidden()
    assert classify_file(page, first_photo("teddy")).startswith("Prediction: teddy")


def test_watchdog_answers_each_ping(monkeypatch):
    dog, sent = Watchdog(), []
    monkeypatch.setattr(dog, "send", sent.append)
    dog._answer(dog, {"ping": 7}, [])
    dog._answer(dog, {"other": 1}, [])
    assert sent == [{"pong": 7}]


def test_a_dead_preheated_kernel_is_never_handed_out(chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    with serve("voila", ARTIFACTS / "voila-pool-killed.log") as server:
        (pooled,) = idle_kernels(server.proc, 1)
        pooled.kill()  # SIGKILL, as the out-of-memory killer does; the next visitor arrives at once
        page = chromium.new_page()
        open_app(page, server.url, WAIT_MS)
        assert classify_file(page, first_photo("grizzly")).startswith("Prediction: grizzly")
        page.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_whose_kernel_died_says_so(kind, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(kind, ARTIFACTS / f"{kind}-kernel-killed.log") as server:
        pooled = {k.pid for k in idle_kernels(server.proc, settings(kind)["pool_size"])}
        page = chromium.new_page(**PHONE)
        open_app(page, server.url)
        assert page.locator(LOST).is_hidden()  # a page still connecting is not a lost one
        assert classify_file(page, first_photo("grizzly")).startswith("Prediction: grizzly")
        assert page.locator(LOST).is_hidden()
        # voila: the visitor took the preheated kernel (a new one refills the pool); jupyter: the only one
        next(k for k in kernels(server.proc) if k.pid in pooled or not pooled).kill()
        says_so_and_reloads(page)
        page.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_whose_server_restarted_says_so(kind, chromium):
    port = free_port()
    with serve(kind, port=port) as server:
        page = chromium.new_page(**PHONE)
        open_app(page, server.url)
        assert classify_file(page, first_photo("grizzly")).startswith("Prediction: grizzly")
    with serve(kind, port=port):
        says_so_and_reloads(page)
    page.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_crowd_on_a_fresh_server_is_served(kind, chromium):
    classes = ["grizzly", "black", "teddy", "grizzly"]
    with serve(kind) as server:
        pages = [chromium.new_page() for _ in classes]
        for page in pages:  # all arrive at once: each request is sent before any page is ready
            page.goto(server.url, wait_until="commit", timeout=WAIT_MS)
        for page, cls in zip(pages, classes, strict=True):
            page.get_by_role("button", name="Classify").wait_for(timeout=3 * WAIT_MS)
            assert classify_file(page, first_photo(cls)).startswith(f"Prediction: {cls}")
            page.close()
