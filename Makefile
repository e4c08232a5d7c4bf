# The two commands a newcomer needs: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: book test lab serve clean

# (Re)create the virtual environment whenever requirements.txt is newer than it.
$(VENV)/installed: requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

book: $(VENV)/installed
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: $(VENV)/installed
	$(BIN)/python -m pytest

lab: $(VENV)/installed
	$(BIN)/jupyter lab book/

serve:
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build $(VENV) .pytest_cache .hypothesis
