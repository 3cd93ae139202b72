"""The phone visitor on a mobile network: chromium as a 360 px touch phone, with the DevTools
protocol's network emulation, opens the app on both routes (a freshly started server each time),
picks a 12 MP camera JPEG (made from a photo of bears-test in a temporary folder, never kept) and
reads its answer (nothing pressed), then visits again with the same browser cache. The baseline, in
the same run: the app as committed at another commit (by default bench.runner.BEFORE, the code
before this work), served the same way, whose page ready it is judged against.

Profiles (harness.browser.PROFILES): Lighthouse's slow 4G (150 ms, 1.6 Mbps down, 750 kbps up) and
4G (60 ms, 9 Mbps down, 3 Mbps up). Figures: the first visit's transferred MB and requests, the
hosts other than the app's that were asked (and those the page's Content-Security-Policy stopped
in the browser), page ready (both photo buttons and Classify shown; the median of `--runs` first
visits, fresh servers each, alternating with the baseline's), chosen -> answer (of which: shrinking
on the phone, the upload, classifying and showing the answer), the same with the websocket's frames
at the profile's bandwidth (Chrome's emulation throttles websocket frames only in part: 2 MB in
64 KB frames took 10.4 s at 750 kbps, not 21 s; the target is judged on that one), the bytes sent
for the photo, the bytes of images sent back (the kernel's preview: none for a JPEG the browser
shows), and the repeat visit."""

import statistics
import tempfile
from pathlib import Path

from bench.runner import BEFORE, ROOT, Result, Target, chromium, main, photos
from harness.browser import PROFILES
from harness.photos import camera_jpeg
from harness.servers import ROUTES, code_at, serve, settings

TARGETS = [  # stated for slow 4G
    Target("first_visit_mb", 1.3),
    Target("other_hosts", 0),
    Target("page_ready_over_baseline", 1.10),
    Target("chosen_to_answer_at_profile_s", 2.5),
    Target("photo_sent_kb", 80),
    Target("image_bytes_sent_back", 0),
    Target("right_answer", 1, at_least=True),
]


def arguments(parser):
    parser.add_argument("--profiles", default="slow4g,4g")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--runs", type=int, default=3, help="first visits of each app, for page ready")
    parser.add_argument("--baseline", default=BEFORE, help=f"the commit of the baseline app (default {BEFORE})")


def at_profile(seen: dict, profile: dict) -> float:
    """Chosen -> answer with the upload and the answer's frames at the profile's bandwidth."""
    shrunk, received, answered = (seen["chosen_s"][k] for k in ("shrunk", "received", "answered"))
    latency = profile["latency"] / 1000
    upload = max(received - shrunk, seen["sent_bytes"] / profile["uploadThroughput"] + latency)
    down = max(answered - received, seen["received_bytes"] / profile["downloadThroughput"] + latency)
    return shrunk + upload + down


def figures(seen: dict, profile: str, ready: list[float], baseline: dict) -> dict:
    shrunk, received, answered = (seen["chosen_s"][k] for k in ("shrunk", "received", "answered"))
    page_ready = statistics.median(ready)
    return {
        "first_visit_mb": seen["first_visit"]["transferred_mb"],
        "requests": seen["first_visit"]["requests"],
        "other_hosts": len(seen["first_visit"]["other_hosts"]),
        "other_hosts_asked": seen["first_visit"]["other_hosts"],
        "other_hosts_blocked_by_csp": seen["first_visit"]["other_hosts_blocked_by_csp"],
        "page_ready_s": round(page_ready, 2),
        "page_ready_runs_s": ready,
        "baseline": baseline,
        "page_ready_over_baseline": round(page_ready / baseline["page_ready_s"], 3),
        "chosen_to_answer_s": round(answered, 2),
        "of_which": {
            "shrink_in_browser_s": round(shrunk, 2),
            "upload_s": round(received - shrunk, 2),
            "classify_and_show_s": round(answered - received, 2),
        },
        "chosen_to_answer_at_profile_s": round(at_profile(seen, PROFILES[profile]), 2),
        "photo_sent_kb": round(seen["sent_bytes"] / 1024, 1),
        "answer_received_kb": round(seen["received_bytes"] / 1024, 1),
        "image_bytes_sent_back": seen["image_bytes_received"],
        "answer": seen["answer"],
        "right_answer": int(seen["label"] == "black"),
        "repeat_visit_mb": seen["repeat_visit"]["transferred_mb"],
        "repeat_requests": seen["repeat_visit"]["requests"],
        "repeat_page_ready_s": seen["repeat_visit"]["page_ready_s"],
    }


async def measure(browser, route: str, profile: str, photo: Path, base: Path, runs: int) -> tuple[dict, list, dict]:
    """`runs` first visits of this app and of the baseline's, in turn, each on a freshly started server;
    the first of this app's chooses the photo."""
    from harness.scenarios import phone_opens, phone_visit

    seen, ready, base_ready, base_first = None, [], [], None
    for run in range(runs):
        for root in (ROOT, base):
            with serve(route, root=root) as server:
                server.wait_for_kernels(settings(route, root)["pool_size"], idle=True)
                if root == ROOT and run == 0:
                    seen = await phone_visit(browser, server, photo, profile)
                    ready.append(seen["page_ready_s"])
                elif root == ROOT:
                    ready.append((await phone_opens(browser, server, profile))["page_ready_s"])
                else:
                    opened = await phone_opens(browser, server, profile)
                    base_ready.append(opened["page_ready_s"])
                    base_first = base_first or opened["first_visit"]
    baseline = {
        "page_ready_s": round(statistics.median(base_ready), 2),
        "page_ready_runs_s": base_ready,
        "first_visit_mb": base_first["transferred_mb"],
    }
    return seen, ready, baseline


async def run(args):
    from harness.browser import launch

    chromium()
    source = sorted((photos("bears-test") / "black").glob("*.jpg"))[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp, code_at(args.baseline) as base:
        photo = camera_jpeg(source, Path(tmp) / "IMG_0001.jpg")
        async with launch() as browser:
            for profile in args.profiles.split(","):
                for route in args.routes.split(","):
                    seen, ready, baseline = await measure(browser, route, profile, photo, base, args.runs)
                    out = figures(seen, profile, ready, baseline | {"commit": args.baseline})
                    out |= {"photo": "4032x3024 JPEG", "photo_mb": photo.stat().st_size / 1e6}
                    results.append(Result(out, TARGETS if profile == "slow4g" else [], f"{route}-{profile}"))
    return results


if __name__ == "__main__":
    main()
