# The two commands a newcomer needs: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# MathJax 3 for the offline build: the files of the pinned django-static-mathjax package (the browser tests find
# them the same way). Debian's Chromium drives the browser tests.
MATHJAX = $(shell $(BIN)/python -c "import importlib.resources as r; print(r.files('mathjax') / 'static' / 'mathjax')")
CHROMIUM ?= /usr/bin/chromium
# pytest-xdist workers for make test, one file per worker at a time (TEST_WORKERS=0 runs in one process).
TEST_WORKERS ?= auto
# The strict build: any warning fails it (tests/conftest.py builds the same way).
STRICT := --warningiserror --nitpick --keep-going

.PHONY: book book-offline test execute bench lab serve clean lock

# (Re)create the virtual environment whenever requirements.txt is newer than it.
$(VENV)/installed: requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# After editing requirements.in or binder/requirements.in: recompile both locks, every package pinned, for
# CPython 3.11 from 3.11.7 (the stored outputs' Python) on Linux, as CI and Binder run it. Pins already in a
# lock stay unless an .in file moves them; LOCK_ARGS=--upgrade moves the unpinned ones to their newest releases.
LOCK := $(BIN)/uv pip compile --quiet --python-version 3.11.7 --python-platform linux --custom-compile-command "make lock"
lock: $(VENV)/installed
	$(LOCK) $(LOCK_ARGS) requirements.in -o requirements.txt
	$(LOCK) $(LOCK_ARGS) binder/requirements.in -c requirements.txt -o binder/requirements.txt

book: $(VENV)/installed
	$(BIN)/jupyter-book build . $(STRICT)

# Readable with no network: MathJax is copied into the site instead of loaded from its CDN.
book-offline: $(VENV)/installed
	BOOK_MATHJAX_DIR=$(MATHJAX) $(BIN)/jupyter-book build . $(STRICT) --all

# The browser tests run when Chromium is installed; otherwise pytest says they skip. Tests marked slow (the browser
# checks of the chapter pages, the GPU command's dry run over every chapter) run only with ALL=1, as in .ci/run.
# On a GPU, JAX would let the first of the parallel test processes and kernels take 75% of the GPU's memory.
test: $(VENV)/installed
	@$(if $(ALL),,echo "make test: leaving out the tests marked slow (the chapter pages in a browser, the GPU" \
	  "command's dry run over every chapter); make test ALL=1 runs them")
	XLA_PYTHON_CLIENT_PREALLOCATE=false CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n $(TEST_WORKERS) $(if $(ALL),,-m "not slow")

# Store notebooks executed top to bottom in a fresh kernel, as nbval strict expects, without per-cell timestamps
# (e.g. make execute NB=book/06_cost.ipynb; all chapters by default).
NB ?= $(wildcard book/*.ipynb)
execute: $(VENV)/installed
	for nb in $(NB); do $(BIN)/jupyter execute --inplace "$$nb" && $(BIN)/nbstripout --keep-output --keep-count "$$nb" || exit 1; done

# The cost table of book/06_cost.ipynb for this machine, printed and written to ./cost_table_cpu.json
# (e.g. make bench BENCH_ARGS="--sizes 256 1024"); book/data/ changes only with BENCH_ARGS="--out book/data/... --force".
bench: $(VENV)/installed
	$(BIN)/python benchmarks/cost_table.py $(BENCH_ARGS)

lab: $(VENV)/installed
	$(BIN)/jupyter lab book/

serve:
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build $(VENV) .pytest_cache .hypothesis
