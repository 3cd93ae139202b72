"""The phone visitor on a mobile network: chromium as a 360 px touch phone, with the DevTools
protocol's network emulation, opens the app on both routes (a freshly started server each time),
picks a 12 MP camera JPEG (made from a photo of bears-test in a temporary folder, never kept) and
reads the answer, then visits again with the same browser cache.

Profiles (harness.browser.PROFILES): Lighthouse's slow 4G (150 ms, 1.6 Mbps down, 750 kbps up) and
4G (60 ms, 9 Mbps down, 3 Mbps up). Figures: the first visit's transferred MB and requests, the
hosts other than the app's that were asked (and those the page's Content-Security-Policy stopped
in the browser), page ready (both photo buttons and Classify shown), chosen -> answer (of which:
shrinking on the phone, the upload, classifying and showing the answer), the same with the
websocket's frames at the profile's bandwidth (Chrome's emulation throttles websocket frames only
in part: 2 MB in 64 KB frames took 10.4 s at 750 kbps, not 21 s; the target is judged on that
one), the bytes sent for the photo, and the repeat visit."""

import tempfile
from pathlib import Path

from bench.runner import Result, Target, chromium, main, photos
from harness.browser import PROFILES
from harness.photos import camera_jpeg
from harness.servers import ROUTES, serve, settings


def targets(route: str) -> list[Target]:
    """The targets, stated for slow 4G."""
    return [
        Target("first_visit_mb", 1.5),
        Target("other_hosts", 0),
        Target("page_ready_s", {"voila": 12, "binder": 18}[route]),
        Target("chosen_to_answer_at_profile_s", 5),
        Target("photo_sent_kb", 300),
        Target("right_answer", 1, at_least=True),
    ]


def arguments(parser):
    parser.add_argument("--profiles", default="slow4g,4g")
    parser.add_argument("--routes", default=",".join(ROUTES))


def at_profile(seen: dict, profile: dict) -> float:
    """Chosen -> answer with the upload and the answer's frames at the profile's bandwidth."""
    shrunk, received, answered = (seen["chosen_s"][k] for k in ("shrunk", "received", "answered"))
    latency = profile["latency"] / 1000
    upload = max(received - shrunk, seen["sent_bytes"] / profile["uploadThroughput"] + latency)
    down = max(answered - received, seen["received_bytes"] / profile["downloadThroughput"] + latency)
    return shrunk + upload + down


def figures(seen: dict, profile: str) -> dict:
    shrunk, received, answered = (seen["chosen_s"][k] for k in ("shrunk", "received", "answered"))
    return {
        "first_visit_mb": seen["first_visit"]["transferred_mb"],
        "requests": seen["first_visit"]["requests"],
        "other_hosts": len(seen["first_visit"]["other_hosts"]),
        "other_hosts_asked": seen["first_visit"]["other_hosts"],
        "other_hosts_blocked_by_csp": seen["first_visit"]["other_hosts_blocked_by_csp"],
        "page_ready_s": seen["page_ready_s"],
        "chosen_to_answer_s": round(answered, 2),
        "of_which": {
            "shrink_in_browser_s": round(shrunk, 2),
            "upload_s": round(received - shrunk, 2),
            "classify_and_show_s": round(answered - received, 2),
        },
        "chosen_to_answer_at_profile_s": round(at_profile(seen, PROFILES[profile]), 2),
        "photo_sent_kb": round(seen["sent_bytes"] / 1024, 1),
        "answer": seen["answer"],
        "right_answer": int(seen["answer"].startswith("Prediction: black")),
        "repeat_visit_mb": seen["repeat_visit"]["transferred_mb"],
        "repeat_requests": seen["repeat_visit"]["requests"],
        "repeat_page_ready_s": seen["repeat_visit"]["page_ready_s"],
    }


async def run(args):
    from harness.browser import launch
    from harness.scenarios import phone_visit

    chromium()
    source = sorted((photos("bears-test") / "black").glob("*.jpg"))[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = camera_jpeg(source, Path(tmp) / "IMG_0001.jpg")
        async with launch() as browser:
            for profile in args.profiles.split(","):
                for route in args.routes.split(","):
                    with serve(route) as server:
                        server.wait_for_kernels(settings(route)["pool_size"], idle=True)
                        seen = await phone_visit(browser, server, photo, profile)
                    out = figures(seen, profile) | {"photo": "4032x3024 JPEG", "photo_mb": photo.stat().st_size / 1e6}
                    results.append(Result(out, targets(route) if profile == "slow4g" else [], f"{route}-{profile}"))
    return results


if __name__ == "__main__":
    main()
