# lgtm.aws — `make run` (site.yml against the local AWS) and `make test` (the whole suite).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/lgtm/aws
INVENTORY ?= inventories/local
# How `make run` reaches the local fleet: ssh (inventories/local's default) or podman.
FLEET_CONNECTION ?=
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# EKS_CHART_SETS='["seed", "current"]' also writes those chart sets' values under out/eks/<set>/ (docs/eks.md).
EKS_CHART_SETS ?=
# The local AWS for `make run`; tests start their own on free ports.
LOCAL_AWS_PORT ?= 5000
# site.yml runs as the deployer (IAM enforced: scripts/local-aws users, docs/security.md); the local fixtures play as
# the administrator. Both users' keys are profiles of the credentials file; no other AWS credentials apply.
LOCAL_AWS_ACCOUNT := 123456789012
LOCAL_AWS_ENV := env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	AWS_ENDPOINT_URL=http://127.0.0.1:$(LOCAL_AWS_PORT) AWS_SHARED_CREDENTIALS_FILE=$(CURDIR)/.cache/local-aws/credentials-$(LOCAL_AWS_PORT) \
	AWS_CONFIG_FILE=/dev/null AWS_PROFILE=lgtm-deployer AWS_DEFAULT_REGION=ap-northeast-2 AWS_REGION=ap-northeast-2

.PHONY: help deps system-deps venv link run stop test lint sanity unit integration molecule build clean

help:
	@echo "make run   - run site.yml against the local AWS ($(INVENTORY)); the local fleet over SSH,"
	@echo "             or FLEET_CONNECTION=podman for podman exec"
	@echo "             EKS_CHART_SETS='[\"seed\", \"current\"]' writes both EKS chart sets"
	@echo "make stop  - stop the local AWS and Docker Engine if 'make run' started them"
	@echo "make test  - yamllint, ansible-lint, ansible-test sanity, unit, integration, molecule"

deps: system-deps venv link

system-deps:
	@scripts/install-system-deps

venv: $(VENV)/.installed
# requirements-dev.txt pins the development tools and includes requirements.txt (the collection's own).
$(VENV)/.installed: requirements-dev.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@test -L $(COLLECTION_LINK) || ln -sfn ../../.. $(COLLECTION_LINK)

# The local AWS keeps running after a run, so the account persists like a real one and a second
# run reports changed=0. `make stop` stops it, and only if `make run` started it. The same holds for the
# Docker Engine (dockerd, started by hand when nothing answers on its socket) that the Docker path
# (group lgtm_docker) runs on; its images are built locally (nothing can be pulled here), once, and the
# SMTP sink joins the stack's network after the run has made it.
run: deps
	@mkdir -p out
	@LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) scripts/local-aws start
	@scripts/local-docker start
	@scripts/local-docker images
	@# The deployer's policy before the run (site.yml writes it again into out/, with the fixtures' VPC): the users' only.
	$(BIN)/ansible-playbook playbooks/deployer_policy.yml -i $(INVENTORY) -e deployer_account_id=$(LOCAL_AWS_ACCOUNT) \
		-e lgtm_output_dir=$(CURDIR)/.cache/local-aws/deployer-$(LOCAL_AWS_PORT)
	@LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) scripts/local-aws users .cache/local-aws/deployer-$(LOCAL_AWS_PORT)/deployer-policy.json
	$(LOCAL_AWS_ENV) $(BIN)/ansible-playbook site.yml -i $(INVENTORY) \
		-e lgtm_local_aws_admin_profile=lgtm-admin -e deployer_account_id=$(LOCAL_AWS_ACCOUNT) \
		$(if $(FLEET_CONNECTION),-e lgtm_local_fleet_connection=$(FLEET_CONNECTION)) \
		$(if $(EKS_CHART_SETS),-e '{"eks_lgtm_export_chart_sets": $(EKS_CHART_SETS)}') $(ARGS)
	@scripts/local-docker smtp-sink start
	@echo "The local AWS stays up at http://127.0.0.1:$(LOCAL_AWS_PORT) for the next run; 'make stop' stops it."
	@echo "The Docker Engine and the SMTP sink stay up too (scripts/local-docker status); 'make stop' stops what make run started."

stop:
	@LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) scripts/local-aws stop
	@scripts/local-docker stop

test: deps lint sanity unit integration molecule

lint:
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint

sanity:
	scripts/sanity

unit:
	$(BIN)/pytest -q tests/unit

# Two workers, one test file each at a time (each worker starts its own moto_server).
INTEGRATION_WORKERS ?= 2
integration:
	$(BIN)/pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=10 tests/integration

molecule:
	scripts/molecule-all

build:
	$(BIN)/ansible-galaxy collection build --force --output-path out/

clean: stop
	rm -rf out .collections tests/output .pytest_cache
