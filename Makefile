# The project's commands. `make demo` and `make test` do the whole setup first.
PY := .venv/bin/python

.PHONY: setup up down status demo test unit bench bench-scale

setup:            ## install ZooKeeper, the virtualenv and the control plane (cached)
	@bash scripts/setup.sh

up: setup         ## start etcd, kube-apiserver and ZooKeeper on loopback (idempotent)
	@$(PY) tests/env/localenv.py up

down:             ## stop them and drop their data (idempotent)
	@if [ -x $(PY) ]; then $(PY) tests/env/localenv.py down; fi

status:
	@$(PY) tests/env/localenv.py status

demo: up          ## the main job: operator + sample Pods + a real ASAB client discovering them
	@$(PY) scripts/demo.py

test: up          ## the whole test suite: unit, install and end-to-end, against the real parts
	@$(PY) -m pytest tests -q -rfEs
	@echo "==> tests/e2e again, every operator as the ServiceAccount of manifests/base (its RBAC, nothing more)"
	@ASAB_TEST_OPERATOR_IDENTITY=serviceaccount $(PY) -m pytest tests/e2e -q -rfEs

unit: setup       ## only the unit tests (no environment needed)
	@$(PY) -m pytest tests/unit -q

bench: up         ## benchmarks, printed as ratios against a baseline measured in the same run
	@$(PY) bench/run.py

bench-scale: setup  ## cold start with 10,000 annotated Pods among 50,000, in an environment of its own
	@$(PY) bench/cold_start.py
