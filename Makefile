# lgtm.aws — `make run` (site.yml against the local AWS) and `make test` (the whole suite).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/lgtm/aws
INVENTORY ?= inventories/local
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# The local AWS for `make run`; tests start their own on free ports.
LOCAL_AWS_PORT ?= 5000
LOCAL_AWS_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:$(LOCAL_AWS_PORT) AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing AWS_DEFAULT_REGION=ap-northeast-2 AWS_REGION=ap-northeast-2

.PHONY: help deps system-deps venv link run test lint sanity unit integration molecule build clean

help:
	@echo "make run   - run site.yml against the local AWS ($(INVENTORY))"
	@echo "make test  - yamllint, ansible-lint, ansible-test sanity, unit, integration, molecule"

deps: system-deps venv link

system-deps:
	@scripts/install-system-deps

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@test -L $(COLLECTION_LINK) || ln -sfn ../../.. $(COLLECTION_LINK)

run: deps
	@mkdir -p out
	@scripts/local-aws start
	@trap 'scripts/local-aws stop' EXIT; \
	  $(LOCAL_AWS_ENV) $(BIN)/ansible-playbook site.yml -i $(INVENTORY) $(ARGS)

test: deps lint sanity unit integration molecule

lint:
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production

sanity:
	scripts/sanity

unit:
	$(BIN)/pytest -q tests/unit

integration:
	$(BIN)/pytest -q tests/integration

molecule:
	scripts/molecule-all

build:
	$(BIN)/ansible-galaxy collection build --force --output-path out/

clean:
	rm -rf out .collections tests/output .pytest_cache
