"""Serving a class: kernels of visitors who left are culled while the preheated pool stays, and
no file of the served folder reaches a visitor, through `voila bears.ipynb` and, as on Binder,
through `jupyter server` at /voila/render/bears.ipynb."""

import asyncio
import json
import secrets
import shutil

import pytest

from harness.browser import Visit
from harness.servers import ROOT, ROUTES, cull_args, serve, settings
from helpers import ARTIFACTS, first_photo, http_get, jpeg_bytes

TIMEOUT, INTERVAL, SLACK = 10, 3, 15  # seconds: a short cull timeout (longer than a page takes to connect)
PRIVATE = [
    "bears_private/black/x.jpg",
    "data/black/x.jpg",
    ".cache/black/x.jpg",
    "export.pkl",
    "bears.ipynb",
    "train.ipynb",
    "voila.json",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of the app's files, with photos in data folders beside it as a teacher's folder might hold."""
    root = tmp_path_factory.mktemp("site")
    for name in ("bears.ipynb", "train.ipynb", "voila.json", *(p.name for p in ROOT.glob("export.*"))):
        shutil.copy2(ROOT / name, root / name)
    for name in ("bear_classifier", "binder"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for rel in PRIVATE:
        if not (root / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(jpeg_bytes())
    return root


def status(url: str, headers: dict | None = None) -> int:
    """HTTP status of a GET, redirects not followed (a redirect serves no file)."""
    return http_get(url, headers).status


def kernel_pids(server, count: int, timeout: float) -> set[int]:
    """The server's kernel pids once there are exactly `count`; AssertionError when not in `timeout` s."""
    try:
        return {p.pid for p in server.wait_for_kernels(count, timeout=timeout)}
    except TimeoutError as e:
        raise AssertionError(str(e)) from None


@pytest.mark.parametrize("route", ROUTES)
async def test_kernel_of_a_visitor_who_left_is_culled_and_the_pool_stays(route, chromium):
    pool = settings(route)["pool_size"]
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(route, ARTIFACTS / f"{route}-cull.log", cull_args(TIMEOUT, INTERVAL)) as server:
        before = kernel_pids(server, pool, 120)  # the preheated pool
        visit = await (await Visit.start(chromium)).open(server.url)
        assert (await visit.classify(first_photo("grizzly"))).text.startswith("Prediction: grizzly")
        await asyncio.sleep(TIMEOUT + 2 * INTERVAL)  # idle but connected: an open tab keeps its kernel
        assert (await visit.classify(first_photo("black"))).text.startswith("Prediction: black")
        await visit.close()  # without beforeunload, as when a phone drops the connection: the kernel stays
        left = kernel_pids(server, pool + 1, 60)  # the visitor's kernel and a pool of `pool`
        after = kernel_pids(server, pool, TIMEOUT + INTERVAL + SLACK)  # the visitor's kernel was culled
        assert after <= left - before, "the pool kernel started for the next visitor must survive the culler"

        visit = await (await Visit.start(chromium)).open(server.url)  # a visitor after the cull gets a working app
        assert (await visit.classify(first_photo("teddy"))).text.startswith("Prediction: teddy")
        await visit.close()


def test_voila_serves_no_file_of_the_folder(site):
    with serve("voila", root=site) as server:
        prefixes = [
            "/",
            "/voila/files/",
            "/files/",
            "/api/contents/",
            "/voila/api/contents/",
            "/voila/tree/",
            "/voila/render/",
            "/voila/static/",
            "/voila/templates/",
            "/voila/labextensions/",
            "/tree/",
        ]
        served = [p + rel for p in prefixes for rel in PRIVATE if status(server.base + p + rel) == 200]
        assert served == []
        assert status(server.url) == 200  # the app itself is served


def xsrf_headers() -> dict:
    """An XSRF cookie and its matching header, as a browser that opened a page of the server sends
    them (/files/ asks for them; the assertion that export.pkl is then served checks they work)."""
    token = secrets.token_hex(16)
    return {"Cookie": f"_xsrf={token}", "X-XSRFToken": token}


def test_binder_route_serves_no_file_through_voila_nor_hidden_folders(site):
    """Binder's visitor owns the server (its token) and so every non-hidden file of the repository;
    what holds: Voila's /voila/files/ serves nothing, and hidden folders (.cache/) nothing at all."""
    with serve("binder", root=site) as server:
        browser_headers = xsrf_headers()
        assert [rel for rel in PRIVATE if status(f"{server.base}/voila/files/{rel}") == 200] == []
        hidden = [rel for rel in PRIVATE if rel.startswith(".")]
        for prefix in ("/files/", "/api/contents/"):
            assert [rel for rel in hidden if status(server.base + prefix + rel, browser_headers) == 200] == []
        assert status(f"{server.base}/files/export.pkl", browser_headers) == 200  # the same request can fetch


def test_binder_route_refuses_visitors_without_binders_token(site):
    with serve("binder", root=site, token="visitor-token") as server:
        paths = ["/voila/render/bears.ipynb", "/api/kernels", "/api/terminals", "/tree", "/lab", "/voila/tree"]
        paths += [p + rel for p in ("/files/", "/api/contents/", "/voila/files/") for rel in PRIVATE]
        assert [p for p in paths if status(server.base + p) == 200] == []
        assert status(f"{server.base}/api/contents/export.pkl?token=visitor-token") == 200


def test_committed_settings_cull_idle_kernels_and_serve_no_files():
    voila = json.loads((ROOT / "voila.json").read_text())
    assert voila["VoilaConfiguration"]["file_allowlist"] == []
    for route in ROUTES:
        s = settings(route)
        assert s["cull_idle_timeout"] > 0 and 0 < s["cull_interval"] <= s["cull_idle_timeout"]
    binder = json.loads((ROOT / "binder/jupyter/jupyter_server_config.json").read_text())
    for config in (voila, binder):  # while anyone waits, a gone page's place comes back within 30 s (a 1 s tick)
        assert config["Room"]["away"] + 1 <= 30 < config["MappingKernelManager"]["cull_idle_timeout"]


@pytest.mark.parametrize("route", ROUTES)
def test_responses_are_compressed_and_the_page_loads_from_its_own_host_only(route):
    """The page and Voila's scripts arrive gzipped on both routes (Voila's own tornado settings cannot
    turn that on: serving.compress_responses does), and the page's Content-Security-Policy keeps
    the browser from fetching anything from another host (Voila's template links a CDN stylesheet;
    test_browser checks that no request leaves)."""
    with serve(route) as server:
        page, script = http_get(server.url), http_get(f"{server.base}/voila/static/voila.js")
        assert page.headers.get("Content-Encoding") == script.headers.get("Content-Encoding") == "gzip"
        assert len(script.body) > 2 * len(script.raw) and b"voila" in page.body
        policy = dict(p.strip().split(" ", 1) for p in page.headers["Content-Security-Policy"].split(";"))
        for directive in ("default-src", "style-src", "font-src", "connect-src"):
            assert policy[directive].split()[0] == "'self'" and "http" not in policy[directive]
