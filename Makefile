# The README's commands. Everything installs into .venv on first use: `make app` only what the
# app needs (no torch); training, data and tests add their extras (pins: requirements-*.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data/bears
NEGATIVES ?= data/notbears
DATA_URL ?= https://raw.githubusercontent.com
export BEAR_DATA_URL := $(DATA_URL)
PORT ?= 8866
IP ?= localhost

.PHONY: install install-train dev app test test-app lint train data dataset suspects evaluate binder-url bench screenshot chromium

install: $(VENV)/.app
$(VENV)/.app: requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -e .
	touch $@

install-train: $(VENV)/.train
$(VENV)/.train: requirements-train.txt $(VENV)/.app
	$(PY) -m pip install -e ".[train]"
	touch $@

dev: $(VENV)/.dev
$(VENV)/.dev: requirements-dev.txt $(VENV)/.train
	$(PY) -m pip install -e ".[train,dev]"
	touch $@

## Serve the app on http://$(IP):$(PORT) (settings in voila.json; IP=0.0.0.0 serves your network)
app: install
	$(VENV)/bin/voila bears.ipynb --port=$(PORT) --Voila.ip=$(IP) --no-browser

## Install everything (chromium too, where apt-get can) and run all tests
test: dev chromium
	$(PY) -m pytest

## For contributors: the app side's fast tests alone (under a minute), and the linters
test-app: dev
	$(PY) -m pytest -m app

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; } \
	  || echo "chromium could not be installed: the browser tests will be skipped"

## Download the published training and held-out photos into data/ (checked by sha256; resumable)
data: install-train
	$(PY) -m bear_classifier.photos.published --out data all

## Retrain export.pkl (and export.onnx) with the committed recipe and cleaning decisions
train: install-train
	$(PY) -m bear_classifier.training.train --data $(DATA) --negatives $(NEGATIVES) --decisions cleaning.csv \
	  --out export.pkl --facts export.json

## Download images with DuckDuckGo image search (needs the internet)
dataset: install-train
	$(PY) -m bear_classifier.photos.search --out bears --per-class 150  # the three bears (BEAR_CLASSES)

## Rank likely label errors for review
suspects: install-train
	$(PY) -m bear_classifier.training.clean --data $(DATA) --negatives $(NEGATIVES) --decisions cleaning.csv --out suspects.csv

## Score export.pkl's int8 and float32 copies and the ImageNet-head baseline on the held-out photos (raw and reviewed labels)
evaluate: install-train
	$(PY) -m bear_classifier.training.evaluate --baseline

## Print the Binder badge and launch URL for this repository's GitHub remote
binder-url: install
	$(PY) -m bear_classifier.app.binder

## Benchmarks, each with its default arguments: all of them, or one (make bench NAME=phone); each
## writes its results to bench/results/ (docs/benchmarks.md), and skips in one line what it lacks
bench: dev chromium
	$(PY) -m bench $(NAME)

## Redo the README's picture, docs/app-on-a-phone.png: the app on a phone, answering one photo
screenshot: dev chromium
	$(PY) -m harness.screenshot
