"""Image download: 300 URLs from a local host, 10 % of them failing in assorted ways (dead links,
HTML served as .jpg, truncated files, a host that never answers), into a dataset folder."""

import tempfile
import time
from pathlib import Path

from bear_classifier.photos.download import Downloader
from bench.runner import Result, Target, main
from harness.hosts import ImageServer, mixed_urls

TARGETS = [Target("seconds", 30)]


def arguments(parser):
    parser.add_argument("--urls", type=int, default=300)
    parser.add_argument("--failing", type=float, default=0.1, help="share of the URLs that fail")


def run(args):
    with ImageServer(slow=30) as server, tempfile.TemporaryDirectory() as tmp:
        urls = mixed_urls(server, args.urls, args.failing)
        downloader = Downloader(Path(tmp))
        t = time.perf_counter()
        counts = downloader.download(urls, "grizzly", progress=False)
        seconds = time.perf_counter() - t
        downloader.close()
        files = len(list(Path(tmp, "grizzly").iterdir()))
    yield Result(
        {
            "urls": len(urls),
            "workers": downloader.workers,
            "timeout_s": downloader.timeout,
            "seconds": round(seconds, 2),
            "saved": counts.saved,
            "failed": counts.failed,
            "duplicate": counts.duplicate,
            "failures": counts.failures,
            "files": files,
        },
        TARGETS,
    )


if __name__ == "__main__":
    main()
