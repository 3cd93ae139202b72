"""Print the Binder badge and launch URL of this repository's GitHub remote.

python -m bear_classifier.binder
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

GITHUB = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com(?::\d+)?/)"
    r"(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"
)
HOWTO = "create the repository on GitHub, then: git remote add origin https://github.com/USER/bear-classifier.git"


def _git(repo: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    except FileNotFoundError:
        raise ValueError("git is not installed") from None
    return r.stdout.strip() if r.returncode == 0 else None


def github_repo(remote: str) -> tuple[str, str] | None:
    """(owner, repo) of a GitHub remote URL in https or ssh form, or None."""
    m = GITHUB.match(remote.strip())
    return (m["owner"], m["repo"]) if m else None


def launch_url(owner: str, repo: str, branch: str = "main") -> str:
    return f"https://mybinder.org/v2/gh/{owner}/{repo}/{quote(branch, safe='')}?urlpath=voila%2Frender%2Fbears.ipynb"


def binder_url(repo: Path = Path(".")) -> str:
    """The launch URL for the `origin` remote and current branch (main when detached) of
    the git repository `repo`; ValueError with what to do when origin is not on GitHub."""
    remote = _git(repo, "remote", "get-url", "origin")
    if remote is None:
        raise ValueError(f"no git remote named origin; {HOWTO}")
    found = github_repo(remote)
    if found is None:
        raise ValueError(f"origin ({remote}) is not a GitHub repository, which Binder's gh launcher needs; {HOWTO}")
    return launch_url(*found, _git(repo, "symbolic-ref", "--short", "HEAD") or "main")


def main():
    try:
        url = binder_url()
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})")
    print(url)


if __name__ == "__main__":
    main()
