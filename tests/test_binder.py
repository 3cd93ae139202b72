"""Binder's environment, checked with repo2docker itself (no Docker needed for --no-build)."""

import re
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

BIN = Path(sys.executable).parent


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_repo2docker_builds_python_311_and_installs_binder_requirements():
    r = subprocess.run(
        [str(BIN / "jupyter-repo2docker"), "--no-build", "--debug", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    dockerfile = r.stdout + r.stderr
    assert "python=3.11" in dockerfile
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/") < install  # ../requirements.txt is there by then
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile


def test_binder_installs_the_app_set_alone():
    assert (ROOT / "binder/requirements.txt").read_text().split("\n")[-2] == "-r ../requirements.txt"
    app = pins(ROOT / "requirements.txt")
    assert {"voila", "ipywidgets", "onnxruntime", "pillow", "numpy"} <= set(app)
    assert not {"torch", "torchvision", "fastai", "timm"} & set(app)
    assert (
        (ROOT / "binder/runtime.txt").read_text().strip() == (ROOT / "runtime.txt").read_text().strip() == "python-3.11"
    )


def test_binder_start_gives_the_server_the_upload_limit():
    code = (
        "from jupyter_server.serverapp import ServerApp; a = ServerApp(); a.load_config_file();"
        "print(a.config.ServerApp.tornado_settings['websocket_max_message_size'])"
    )
    r = subprocess.run(["bash", "binder/start", sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    assert int(r.stdout.split()[-1]) >= 20 * 2**20
