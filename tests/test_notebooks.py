"""Both notebooks run top to bottom headless, as committed: train.ipynb in a clean copy of the
repository with no ../shared beside it (the published photos from a local host, quick settings)."""

import nbformat
from nbclient import NotebookClient

from harness.hosts import RawHost
from harness.photos import present
from helpers import ROOT, clean_copy, published


def run(nb, path=ROOT, timeout=900):
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path)}}).execute()
    return nb


def outputs(nb):
    return "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def test_notebooks_are_committed_clean():
    for name in ("train.ipynb", "bears.ipynb"):
        nb = nbformat.read(ROOT / name, as_version=4)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"
        ), name


def test_train_notebook_runs_in_a_clean_copy_fetching_the_published_photos(tmp_path):
    rows = {name: present(name) for name in ("bears", "notbears") if published(name)}
    repo = clean_copy(tmp_path / "repo")
    assert not (repo.parent / "shared").exists() and not (repo / "data").exists()
    nb = nbformat.read(repo / "train.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    with RawHost(rows) as host:
        params.source += f"\nDATA_URL = {host.base_url!r}\nSAMPLE, SIZE, EPOCHS = 8, 64, 1"
        run(nb, repo)
    text = outputs(nb)
    assert len(list((repo / "data" / "bears").glob("*/*"))) == len(rows["bears"])
    assert (repo / "export.pkl").exists() and (repo / "export.onnx").exists()
    assert "validation accuracy" in text and "'none of these' when P(other) >=" in text
    assert "images (black: " in text and "suspects" in text and "learn.predict:" in text
    assert "Prediction: " in text or "doesn't look like" in text


def test_app_notebook_builds_the_app():
    nb = run(nbformat.read(ROOT / "bears.ipynb", as_version=4), timeout=300)
    views = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(views) == 1
    states = [m["state"] for m in nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()]
    # the picker (with Classify), sending the shipped model's size
    assert any(s.get("_model_name") == "AnyModel" and s.get("short_side") == 352 for s in states)
    assert "Bear classifier" in str(states) and "bear-message" not in str(states)
