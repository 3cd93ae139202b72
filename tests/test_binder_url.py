"""python -m bear_classifier.app.binder in temporary git repositories."""

import os
import subprocess
import sys

import pytest

from bear_classifier.app.binder import github_repo
from helpers import ROOT

pytestmark = pytest.mark.app


def binder(repo):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bear_classifier.app.binder"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def git_repo(path, branch, remote=None):
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", branch], cwd=path, check=True)
    if remote:
        subprocess.run(["git", "remote", "add", "origin", remote], cwd=path, check=True)
    return path


@pytest.mark.parametrize(
    "remote,branch",
    [
        ("https://github.com/ursa/bear-classifier.git", "main"),
        ("git@github.com:ursa/bear-classifier.git", "gh-pages"),
    ],
)
def test_badge_and_launch_url_for_https_and_ssh_remotes(tmp_path, remote, branch):
    r = binder(git_repo(tmp_path / "repo", branch, remote))
    url = f"https://mybinder.org/v2/gh/ursa/bear-classifier/{branch}?urlpath=voila%2Frender%2Fbears.ipynb"
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})", url]


@pytest.mark.parametrize(
    "remote,message",
    [
        (None, "error: no git remote named origin; create the repository on GitHub, then: git remote add origin "),
        (
            "https://gitlab.com/ursa/bear-classifier.git",
            "error: origin (https://gitlab.com/ursa/bear-classifier.git) is not a GitHub repository",
        ),
    ],
)
def test_no_github_remote_says_how_to_add_one(tmp_path, remote, message):
    r = binder(git_repo(tmp_path / "repo", "main", remote))
    assert r.returncode != 0
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1 and r.stderr.startswith(message)


def test_remote_forms():
    for remote in [
        "https://github.com/ursa/bears",
        "https://github.com/ursa/bears.git/",
        "git@github.com:ursa/bears",
        "ssh://git@github.com/ursa/bears.git",
        "https://token@github.com/ursa/bears.git",
    ]:
        assert github_repo(remote) == ("ursa", "bears"), remote
    assert github_repo("https://github.com/ursa") is None and github_repo("https://example.com/ursa/bears") is None
