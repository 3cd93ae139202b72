"""The downloader against a local image host: failures, duplicates, atomicity, resume."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from bear_classifier.photos.download import LOG, Downloader, sniff
from bear_classifier.photos.search import build_dataset, cached_search, parse_spec
from harness.hosts import ImageServer
from helpers import ROOT


def images_in(root: Path):
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name != LOG)


def test_every_kind_of_failure_is_counted_and_nothing_bad_is_saved(tmp_path):
    with ImageServer(slow=5) as s:
        urls = [
            s.url(p)
            for p in [
                "img/1.jpg",
                "img/2.png",
                "img/3.webp",
                "redirect/4.jpg",
                "status/404",
                "status/500",
                "status/429",
                "html.jpg",
                "svg.jpg",
                "truncated.jpg",
                "huge.jpg",
                "slow/5.jpg",
                "same/a.jpg",
                "same/b.jpg",
                "same/c.jpg",
            ]
        ]
        urls.append("http://127.0.0.1:9/refused.jpg")
        dl = Downloader(tmp_path, workers=8, timeout=1.0)
        c = dl.download(urls, "grizzly", progress=False)
        dl.close()
    assert (c.saved, c.duplicate, c.failed) == (5, 2, 9)
    assert c.failures["HTTP 404"] == 1 and c.failures["timeout"] == 1 and c.failures["too large"] == 1
    assert c.failures["not an image (HTML page)"] == 1 and c.failures["HTTP 429"] == 1
    saved = images_in(tmp_path)
    assert len(saved) == 5
    assert {p.suffix for p in saved} == {".jpg", ".png", ".webp"}
    for p in saved:
        with Image.open(p) as im:
            im.load()
    assert not list(tmp_path.rglob("*.part"))


def test_duplicates_are_found_across_class_folders_and_reruns_skip_done_urls(tmp_path):
    with ImageServer() as s:
        first = build_dataset(tmp_path, {"black": [s.url("img/7.jpg"), s.url("img/8.jpg")]}, progress=False)
        again = build_dataset(
            tmp_path,
            {
                "black": [s.url("img/7.jpg"), s.url("img/8.jpg")],
                "grizzly": [s.url("img/7.jpg?copy"), s.url("img/9.jpg")],
            },
            progress=False,
        )
    assert first["black"].saved == 2
    assert again["black"].skipped == 2 and again["black"].saved == 0
    assert again["grizzly"].duplicate == 1 and again["grizzly"].saved == 1
    assert len(images_in(tmp_path)) == 3


def test_sniffing_ignores_extensions():
    assert sniff(b"\xff\xd8\xff\xe0rest") == "jpg"
    assert sniff(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert sniff(b"<!DOCTYPE html>") is None and sniff(b"<svg xmlns=") is None


def test_class_specs_and_cached_search(tmp_path):
    assert parse_spec("grizzly bear=grizzly") == ("grizzly bear", "grizzly")
    assert parse_spec("tennis ball") == ("tennis ball", "tennis ball")

    class Once:
        calls = 0

        def images(self, query, **kw):
            Once.calls += 1
            return [
                {
                    "title": "",
                    "image": f"http://x/{i}.jpg",
                    "thumbnail": "",
                    "url": "",
                    "height": 1,
                    "width": 1,
                    "source": "",
                }
                for i in range(kw["max_results"])
            ]

    assert len(cached_search(tmp_path, "grizzly bear", "grizzly", 5, Once())) == 5
    assert len(cached_search(tmp_path, "grizzly bear", "grizzly", 5, Once())) == 5
    assert Once.calls == 1


def test_killed_download_resumes_with_no_partial_or_duplicate_files(tmp_path):
    with ImageServer() as s:
        urls = [s.url(f"drip/{i}.jpg") for i in range(60)] + [s.url("same/x.jpg"), s.url("same/y.jpg")]
        url_file = tmp_path / "urls.txt"
        url_file.write_text("\n".join(urls))
        out = tmp_path / "data"
        cmd = [
            sys.executable,
            "-m",
            "bear_classifier.photos.search",
            "--out",
            str(out),
            "--urls",
            f"grizzly={url_file}",
            "--workers",
            "4",
        ]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while len(images_in(out)) < 5 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partway = images_in(out)
        assert 5 <= len(partway) < 61, "the kill should land mid-run"
        for p in partway:  # whatever a kill leaves visible is a complete image
            with Image.open(p) as im:
                im.load()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = images_in(out)
    assert len(final) == 61  # 60 distinct + one of the two identical images
    assert len({p.read_bytes() for p in final}) == 61
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.is_file() and "searches" not in str(p)]
    assert "already done" in done.stdout
