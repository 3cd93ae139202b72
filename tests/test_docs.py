"""The front page stays a front page (short, with the picture of the app, the two commands and the way
to your own classes first), and every link of the docs leads somewhere."""

import re

import pytest
from PIL import Image

from helpers import ROOT

pytestmark = pytest.mark.app

README = ROOT / "README.md"
PAGES = [README, ROOT / "MODEL_CARD.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def test_the_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 150 and len(text.encode()) <= 10 * 1024
    first_screen = "\n".join(text.splitlines()[:40])
    assert "make app" in first_screen and "make test" in first_screen
    assert "bear_classifier.training.train" in first_screen and "train.ipynb" in first_screen  # your own classes
    assert "YOUR-GITHUB-USER" not in text and "make binder-url" in text  # no badge that leads nowhere


def test_the_readme_shows_the_app_on_a_phone():
    (src, width), *_ = re.findall(r'<img src="([^"]+)"[^>]*width="(\d+)"', README.read_text())
    picture = ROOT / src
    assert picture.suffix == ".png" and picture.stat().st_size <= 200_000 and int(width) <= 300
    with Image.open(picture) as im:
        assert im.size == (720, 1480)  # a 360 x 740 phone screen at device scale 2


def test_every_link_of_the_docs_resolves():
    broken = []
    for page in PAGES:
        for target in (a or b for a, b in LINK.findall(page.read_text())):
            path = target.split("#")[0]
            if path and not re.match(r"[a-z]+:", path) and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_every_result_file_the_docs_name_exists():
    named = {m for page in PAGES for m in re.findall(r"bench/results/[a-z0-9][\w.-]*\.json", page.read_text())}
    bare = {m for page in PAGES for m in re.findall(r"(?<![\w/.[-])[a-z0-9][\w.-]*\.json", page.read_text())}
    assert bare <= {"voila.json", "export.json"}, "name result files with their folder, bench/results/"
    assert named, "the benchmark figures name their result files"
    assert sorted(n for n in named if not (ROOT / n).exists()) == []


def test_the_table_of_targets_is_made_from_the_result_files():
    from bench.runner import table

    assert table() in (ROOT / "docs" / "benchmarks.md").read_text(), "run: python -m bench --table"
