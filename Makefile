# Two commands: `make run` and `make test`. Both bootstrap .venv from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench check migrate messages lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"' \
		|| { echo "Need python3 >= 3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) \
		|| { echo "Could not create .venv: on Debian/Ubuntu run 'apt install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	@mkdir -p var
	$(BIN)/hocvuso migrate
	$(BIN)/hocvuso serve

# The second pytest run is the same suite on SQLite at 23:30 in the commune, with the machine's
# own time zone a day ahead: a test or code that mixes the machine's date with the commune's fails.
# Two workers (pytest-xdist, TEST_WORKERS=1 for one): most tests wait on sockets, processes and
# a browser rather than on the CPU, and every test has its own database, ports and files.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/hocvuso content check
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS)
	env -u HOCVUSO_TEST_POSTGRES_URL TZ=Pacific/Kiritimati $(BIN)/python -m pytest -q -p no:cacheprovider --clock 23:30 -n $(TEST_WORKERS)

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_qa.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_console.py
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_inbox.py
	$(BIN)/python bench/bench_audio.py
	$(BIN)/python bench/bench_memory.py
	$(BIN)/python bench/bench_scale.py

check: $(STAMP)
	$(BIN)/hocvuso content check

migrate: $(STAMP)
	$(BIN)/hocvuso migrate

# Re-extract UI strings from the code and merge them into every catalog.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header -o bot/locale/messages.pot .
	$(BIN)/pybabel update -i bot/locale/messages.pot -d bot/locale --width 100 --no-fuzzy-matching

# Re-pin after changing dependencies in pyproject.toml.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[test]'
	(echo '# Exact versions installed by `make`. Regenerate with `make lock` after changing pyproject.toml.'; \
	 .venv-lock/bin/pip freeze --exclude-editable) > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache
