"""Download benchmark: 300 URLs from a local host, 10% failing in assorted ways.

.venv/bin/python -m bench.download     # prints JSON; target: seconds <= 30
"""

import json
import tempfile
import time
from pathlib import Path

from bear_classifier.photos.download import Downloader
from harness.hosts import ImageServer, mixed_urls


def main():
    with ImageServer(slow=30) as server, tempfile.TemporaryDirectory() as tmp:
        urls = mixed_urls(server, 300, 0.1)
        dl = Downloader(Path(tmp))
        t = time.perf_counter()
        counts = dl.download(urls, "grizzly", progress=False)
        seconds = time.perf_counter() - t
        dl.close()
        files = [p for p in Path(tmp, "grizzly").iterdir()]
    print(
        json.dumps(
            {
                "urls": len(urls),
                "workers": dl.workers,
                "timeout_s": dl.timeout,
                "seconds": round(seconds, 2),
                "saved": counts.saved,
                "failed": counts.failed,
                "duplicate": counts.duplicate,
                "failures": counts.failures,
                "files": len(files),
                "target_seconds": 30,
                "meets_target": seconds <= 30,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
