# The README's commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data/bears
NEGATIVES ?= ../shared/data/notbears
PORT ?= 8866

.PHONY: install dev app test train dataset suspects evaluate bench chromium

install: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $@

dev: $(VENV)/.dev-installed
$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

## Serve the app on http://localhost:$(PORT) (settings in voila.json)
app: install
	PYTHONPATH=. $(VENV)/bin/voila bears.ipynb --port=$(PORT) --no-browser

## Install everything (chromium too, where apt-get can) and run all tests
test: dev chromium
	$(PY) -m pytest

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; } \
	  || echo "chromium could not be installed: the browser tests will be skipped"

## Retrain export.pkl with the committed recipe and cleaning decisions
train: install
	$(PY) -m bear_classifier.train --data $(DATA) --negatives $(NEGATIVES) --decisions cleaning.csv \
	  --out export.pkl --facts export.json

## Download images with DuckDuckGo image search (needs the internet)
dataset: install
	$(PY) -m bear_classifier.dataset --out bears --per-class 150 "grizzly bear=grizzly" "black bear=black" "teddy bear=teddy"

## Rank likely label errors for review
suspects: install
	$(PY) -m bear_classifier.clean --data $(DATA) --negatives $(NEGATIVES) --decisions cleaning.csv --out suspects.csv

## Score export.pkl and the ImageNet-head baseline on the held-out photos
evaluate: dev
	$(PY) bench/heldout.py export.pkl

## Benchmarks (each prints JSON)
bench: dev
	$(PY) bench/download.py
	$(PY) bench/inference.py
	$(PY) bench/train.py
	$(PY) bench/app.py
	$(PY) bench/heldout.py export.pkl
