# The two commands a newcomer needs: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# A local copy of MathJax (npm) for the offline build and the browser tests; Debian's Chromium drives those tests.
MATHJAX_VERSION := 3.2.2
MATHJAX := _build/mathjax/node_modules/mathjax
CHROMIUM ?= /usr/bin/chromium
# The strict build: any warning fails it (tests/conftest.py builds the same way).
STRICT := --warningiserror --nitpick --keep-going

.PHONY: book book-offline test mathjax bench lab serve clean

# (Re)create the virtual environment whenever requirements.txt is newer than it.
$(VENV)/installed: requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

book: $(VENV)/installed
	$(BIN)/jupyter-book build . $(STRICT)

# Readable with no network: MathJax is copied into the site instead of loaded from its CDN.
book-offline: $(VENV)/installed mathjax
	BOOK_MATHJAX_DIR=$(MATHJAX) $(BIN)/jupyter-book build . $(STRICT) --all

# The browser tests run when Chromium is installed (they fetch MathJax first); otherwise pytest says they skip.
test: $(VENV)/installed
	@if [ -x "$(CHROMIUM)" ]; then $(MAKE) --no-print-directory mathjax; fi
	MATHJAX_DIR=$(MATHJAX) CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

mathjax: $(MATHJAX)/es5/tex-mml-chtml.js
$(MATHJAX)/es5/tex-mml-chtml.js:
	npm install --silent --no-audit --no-fund --prefix _build/mathjax mathjax@$(MATHJAX_VERSION)

# The cost table of book/06_cost.ipynb for this machine, printed and written to ./cost_table_cpu.json
# (e.g. make bench BENCH_ARGS="--sizes 256 1024"); book/data/ changes only with BENCH_ARGS="--out book/data/...".
bench: $(VENV)/installed
	$(BIN)/python benchmarks/cost_table.py $(BENCH_ARGS)

lab: $(VENV)/installed
	$(BIN)/jupyter lab book/

serve:
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build $(VENV) .pytest_cache .hypothesis
