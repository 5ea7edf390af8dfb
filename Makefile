# Two commands on a fresh machine: `make demo` and `make test`. Each one creates .venv and
# installs everything retold needs into it; nothing is assumed to be installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYSTEM := $(VENV)/.system
SEEDS  := ../shared/seeds

.PHONY: install system demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,web,spark]'
	touch $(STAMP)

# System packages the tests drive: Debian's Chromium (the web page's end-to-end tests) and a Java
# runtime (the Spark engine's tests). Installed through apt when missing; without them those tests
# skip with a reason.
$(SYSTEM): $(STAMP)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "make: warning: chromium not installed; browser tests will be skipped"
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } || echo "make: warning: java not installed; Spark tests will be skipped"
	touch $(SYSTEM)

install: $(STAMP)

system: $(SYSTEM)

demo: $(STAMP)
	$(VENV)/bin/retold compare $(SEEDS)/000_*.txt $(SEEDS)/001_*.txt

test: $(STAMP) $(SYSTEM)
	$(PY) -m pytest

bench: $(STAMP) $(SYSTEM)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info
