"""Both notebooks run top to bottom headless, as committed (train.ipynb with quick parameters)."""
import nbformat
from nbclient import NotebookClient

from helpers import ROOT, shared


def run(nb, timeout=900):
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def outputs(nb):
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells
                     if c.cell_type == "code" for o in c.get("outputs", []))


def test_notebooks_are_committed_clean():
    for name in ("train.ipynb", "bears.ipynb"):
        nb = nbformat.read(ROOT / name, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), name


def test_train_notebook_runs_with_quick_parameters(tmp_path):
    nb = nbformat.read(ROOT / "train.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    decisions = tmp_path / "cleaning.csv"
    decisions.write_bytes((ROOT / "cleaning.csv").read_bytes())
    params.source += (f"\nDATA = {str(shared('bears'))!r}\nNEGATIVES = {str(shared('notbears'))!r}"
                      f"\nDECISIONS = {str(decisions)!r}\nSAMPLE, SIZE, EPOCHS = 8, 64, 1"
                      f"\nCACHE = {str(tmp_path / 'cache')!r}\nOUT = {str(tmp_path / 'export.pkl')!r}")
    run(nb)
    text = outputs(nb)
    assert (tmp_path / "export.pkl").exists() and (tmp_path / "export.pt").exists()
    assert "validation accuracy" in text and "'none of these' when P(other) >=" in text
    assert "images (black: " in text and "suspects" in text and "learn.predict:" in text
    assert "Prediction: " in text or "doesn't look like" in text


def test_app_notebook_builds_the_app():
    nb = run(nbformat.read(ROOT / "bears.ipynb", as_version=4), timeout=300)
    views = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1
