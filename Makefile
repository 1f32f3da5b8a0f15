# Entry points of the project. `make run` and `make test` are the README's two commands.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-complete

.PHONY: env run report test test-fast test-e2e test-slow test-cluster lint format forecast

# The environment is (re)made when the pins or the setup script change; the script itself is idempotent.
$(STAMP): scripts/setup_env.sh requirements/pinned.txt pyproject.toml
	VENV=$(VENV) bash scripts/setup_env.sh
	touch $(STAMP)

env: $(STAMP)

# The main job: the whole pipeline on the embedded default (synthetic data, CPU). CONFIG="A.yaml B.yaml" runs those
# pipeline configs instead (snakemake --configfile A.yaml B.yaml), checked first so that a missing file or a YAML
# error is one line naming the file and the line; ARGS="..." adds Snakemake options (e.g. --workflow-profile ...).
run: $(STAMP)
	$(if $(CONFIG),@$(PY) -m dynrcnn.pipeline $(CONFIG))
	$(VENV)/bin/snakemake --cores all $(if $(CONFIG),--configfile $(CONFIG)) $(ARGS)

# GPU-hours of a config's whole plan before it runs: CONFIG="A.yaml ..." (default: the embedded default) at SPI seconds
# per iteration (python -m dynrcnn.pipeline.forecast; README "Before you spend the GPU-hours").
forecast: $(STAMP)
	$(PY) -m dynrcnn.pipeline.forecast $(or $(CONFIG),configs/pipeline/default.yaml) --spi $(or $(SPI),$(error SPI=seconds per iteration is required))

# The report of the config (the embedded default, or CONFIG="A.yaml ...") from the run folders under results/runs/
# alone (report.from_runs: configs/pipeline/report_from_runs.yaml): no dataset, checkpoint or work dir needed, no
# training, evaluation or dataset job; runs of the config that are missing are named in one notice.
report: $(STAMP)
	$(if $(CONFIG),@$(PY) -m dynrcnn.pipeline $(CONFIG) configs/pipeline/report_from_runs.yaml)
	$(VENV)/bin/snakemake --cores 1 --configfile $(or $(CONFIG),configs/pipeline/default.yaml) \
		configs/pipeline/report_from_runs.yaml $(ARGS)

# The test targets run in TEST_WORKERS pytest-xdist processes (0: one process, pytest's own order): a test file runs
# whole on one worker, the files sharing the SLURM cluster or the default dataset on one, the expensive files first
# (tests/conftest.py); a training test's torch threads are the cores shared out among the workers.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS)

# Every check: the lint, then the fast unit tests, the slow learning test, the end-to-end pipeline test and the
# cluster rehearsal (a single-node SLURM cluster; as root, else those tests skip).
test: lint
	$(PYTEST) -m "e2e or slow or cluster or not (e2e or slow or cluster)"

# Fast unit tests only (pyproject's default marker filter).
test-fast: $(STAMP)
	$(PYTEST)

test-e2e: $(STAMP)
	$(PYTEST) -m e2e

test-slow: $(STAMP)
	$(PYTEST) -m slow

# The cluster rehearsal alone: starts a single-node SLURM cluster (scripts/local_slurm.sh, root), stops it after.
test-cluster: $(STAMP)
	$(PYTEST) -m cluster

# ruff (Python: lint and format), snakefmt (Snakefile and rules) and Snakemake's own linter; `make format` fixes
# what the first two find.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/snakemake --lint

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/snakefmt Snakefile workflow/rules
