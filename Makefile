# mediastack.core — developer and CI entry points. `make demo` and `make test` are the two
# commands a new user runs; everything they need is installed by the targets below.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
BIN := $(VENV)/bin
COLLECTION_LINK := $(ROOT)/.cache/collections/ansible_collections/mediastack/core
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

LAB_INVENTORY := inventories/lab/docker.yml

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: host
host:  ## install the host packages (docker.io, debootstrap, ...) and start dockerd if none answers
	@scripts/host-setup.sh

$(BIN)/.requirements.sha: requirements.txt
	@scripts/venv.sh "$(VENV)"

.PHONY: venv
venv: $(BIN)/.requirements.sha  ## create/refresh the pinned controller venv (idempotent)

$(COLLECTION_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn ../../../.. $@

.PHONY: setup
setup: host venv $(COLLECTION_LINK)  ## host packages + venv + collection link

.PHONY: lab-image
lab-image: host  ## build the offline Debian 12 systemd lab image (content-hash tagged)
	@scripts/lab-image.sh >/dev/null

.PHONY: lab
lab: setup  ## create the lab (systemd node containers + image registry + stand-in images)
	ansible-playbook playbooks/lab.yml $(LAB_ARGS)
	$(BIN)/python scripts/standin_images.py --push 127.0.0.1:5000

.PHONY: lab-down
lab-down: venv $(COLLECTION_LINK)  ## remove every lab container, network and volume
	ansible-playbook playbooks/lab_down.yml

.PHONY: site
site: setup  ## run site.yml against the lab
	ansible-playbook -i $(LAB_INVENTORY) site.yml $(SITE_ARGS)

.PHONY: lint
lint: setup  ## ansible-lint (production profile) + yamllint
	scripts/stage-lint.sh

.PHONY: sanity
sanity: setup  ## ansible-test sanity, offline
	scripts/stage-sanity.sh

.PHONY: unit
unit: setup  ## pytest unit tests
	pytest -q tests/unit

.PHONY: integration
integration: setup lab-image  ## integration tests on this machine (bad inventories, namespaces, real daemons)
	pytest -q -s tests/integration --ignore=tests/integration/lab

.PHONY: molecule
molecule: setup lab-image  ## every Molecule scenario (converge, idempotence, verify, check mode)
	scripts/stage-molecule.sh

.PHONY: e2e
e2e: setup lab-image  ## fresh lab, site.yml, second run changed=0 on every host, check mode
	pytest -q -s --durations=25 tests/integration/lab

.PHONY: e2e-under-load
e2e-under-load: setup lab-image  ## the e2e stage three times in a row beside a CPU-bound process (issue 22's check)
	scripts/e2e-under-load.sh 3 1

.PHONY: ee-context
ee-context: setup  ## the execution environment's build context (ee/execution-environment.yml) in .cache/ee/context
	scripts/ee-context.sh

.PHONY: build
build: setup  ## build the collection tarball and check it carries no test/lab content
	scripts/stage-build.sh

.PHONY: test
test: setup  ## everything CI runs, in order, with a timing table
	scripts/run-stages.sh lint sanity unit build integration molecule e2e

.PHONY: catalog-roles
catalog-roles: venv  ## generate the thin per-service roles, site.yml's list and docs/versions.md's table from the catalog
	$(BIN)/python scripts/catalog_roles.py
	$(BIN)/python scripts/versions_doc.py

.PHONY: demo
demo: setup  ## build the lab, run site.yml against it, print a summary
	scripts/demo.sh

.PHONY: clean
clean: lab-down  ## remove the lab and the caches (keeps the venv)
	rm -rf .cache/sanity .pytest_cache

.PHONY: molecule-clean
molecule-clean:  ## destroy every Molecule instance
	@for s in molecule/*/molecule.yml; do molecule destroy -s "$$(basename "$$(dirname "$$s")")" >/dev/null 2>&1 || true; done
