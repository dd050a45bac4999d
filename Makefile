# Seed attendance terminal — the two commands a newcomer runs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# libreoffice-calc-nogui: the tests recompute the XLSX reports' formulas with it, `make screenshots` draws their sheets
APT_PACKAGES := python3 python3-venv python3-dev build-essential mosquitto mosquitto-clients chrony faketime \
	espeak-ng libegl1 libgl1-mesa-dri libgl1 libgles2 libmtdev1 libsdl2-2.0-0 fonts-wqy-microhei systemd sqlcipher \
	ca-certificates openssl util-linux procps alsa-utils postgresql \
	chromium chromium-driver gettext poppler-utils libreoffice-calc-nogui
PYTEST_ARGS ?=

.PHONY: setup apt venv messages lint demo test bench screenshots clean

setup: apt venv messages

# Installs the system packages the terminal and its tests use (Debian 12 / Raspberry Pi OS, as root).
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing apt packages:$$missing (run as root or install them)"; exit 1; fi; \
		echo "installing apt packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# the Debian package enables and starts services we only want started by the demo and the tests
	@-systemctl disable --now mosquitto chrony postgresql >/dev/null 2>&1 || true

$(VENV)/.installed: requirements.txt requirements-central.txt requirements-dev.txt setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r <(sed -e '/# no-deps/d' -e 's|^-r |-r $(CURDIR)/|' requirements-dev.txt)
	$(PY) -m pip install -q --no-deps $$(grep '# no-deps' requirements-dev.txt | cut -d'#' -f1)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

# The console's gettext catalogues, compiled from the .po files in the repository.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard central/locale/*/LC_MESSAGES/django.po central/*/locale/*/LC_MESSAGES/django.po))
%.mo: %.po
	msgfmt --check -o $@ $<
messages: $(MO_FILES)

demo: setup
	$(PY) -m terminal.demo

# ruff (pyproject.toml: pycodestyle, pyflakes, bugbear, pyupgrade, isort) and mypy (with the django-stubs and
# pydantic plugins) over the whole code base, then the whole suite on SQLite and, beside it, the central server's
# suite again on PostgreSQL (a cluster the tests start).
LINTED := terminal sync_agent enrollment central contract benchmarks tests
lint: setup
	$(PY) -m ruff check $(LINTED)
	# mypy's Django plugin loads the test settings and ends with os._exit: name a database (never opened) so that
	# they make no temporary folder the exit would leave behind
	SEED_CENTRAL_DB=$(CURDIR)/.mypy-never-opened.db $(PY) -m mypy terminal sync_agent enrollment central contract

# `make lint` beside the tests (its failure fails the target; its output follows theirs), and three lines of pytest
# sessions at once, each session with its own brokers, databases and browsers, so both cores stay busy: in front,
# the whole suite on SQLite but the parts named below; beside it, every central test again on PostgreSQL but the
# Chromium ones (they drive the same pages, whose reads the selector and page tests cover on PostgreSQL) and those
# that open no database (marked no_database by tests/conftest.py: they answer the same), then the kiosk's and the
# door camera's tests, the central's face photo tests, the demo and the backups' (BESIDE_TESTS: with the PostgreSQL
# session about as long as the front line, so the two lines end together); and the tests that mostly wait
# (WAITING_TESTS, about a sixth of their time on a core): the partition test waiting out a broker outage, the
# deliveries through a broker killed and restarted, chrony's and the clocks' tests, the certificates refused by the
# broker, the camera that goes and comes back, the fingerprint sensor's time-outs, and Chromium walks and pictures,
# whose time is mostly the browser's and the server's. The other sessions' output follows the front one's, and any
# session failing fails the target (a session left with nothing to run, exit 5, does not, as long as one ran).
# (the tests/central files next to each other: a folder named again after another one's files loses its conftest)
WAITING_TESTS := tests/sync/test_partition.py tests/sync/test_delivery.py tests/sync/test_time.py \
	tests/sync/test_security.py tests/hardware/test_camera_recovery.py tests/hardware/test_fingerprint_contract.py \
	tests/central/test_console_screenshots.py tests/central/test_backup_browser.py \
	tests/central/test_month_close_browser.py tests/central/test_month_confirmation_browser.py \
	tests/central/test_shift_change_browser.py
BESIDE_TESTS := tests/ui tests/vision tests/central/test_face_photos.py tests/central/test_face_photos_browser.py \
	tests/central/test_api_faces.py tests/central/test_backup.py tests/test_demo.py

test: setup
	@logs=$$(mktemp -d); \
	( $(MAKE) -s lint >$$logs/lint.log 2>&1; echo $$? >$$logs/lint.rc ) & lint=$$!; \
	$(PY) -m pytest -p no:cacheprovider $(WAITING_TESTS) $(PYTEST_ARGS) >$$logs/waiting.log 2>&1 & waiting=$$!; \
	( $(PY) -m pytest -p no:cacheprovider -m "central and not browser and not no_database" --central-db=postgresql \
		$(PYTEST_ARGS) \
		>$$logs/pg.log 2>&1; echo $$? >$$logs/pg.rc; \
	  $(PY) -m pytest -p no:cacheprovider $(BESIDE_TESTS) $(PYTEST_ARGS) >$$logs/beside.log 2>&1; \
	  echo $$? >$$logs/beside.rc ) & beside=$$!; \
	$(PY) -m pytest $(addprefix --ignore=,$(WAITING_TESTS) $(BESIDE_TESTS)) $(PYTEST_ARGS); main=$$?; \
	wait $$beside; echo "--- the central tests on PostgreSQL, run beside the suite:"; cat $$logs/pg.log; \
	echo "--- $(BESIDE_TESTS), run beside the suite after them:"; cat $$logs/beside.log; \
	wait $$waiting; rc=$$?; echo "--- $(WAITING_TESTS), run beside the suite:"; cat $$logs/waiting.log; \
	wait $$lint; echo "--- make lint (ruff, mypy), run beside the suite:"; cat $$logs/lint.log; \
	lintrc=$$(cat $$logs/lint.rc); [ $$lintrc -eq 0 ] || lintrc=1; \
	pgrc=$$(cat $$logs/pg.rc); besiderc=$$(cat $$logs/beside.rc); rm -rf $$logs; failed=0; ran=0; \
	for code in $$main $$pgrc $$besiderc $$rc $$lintrc; do \
		[ $$code -eq 0 ] && ran=1; [ $$code -eq 0 ] || [ $$code -eq 5 ] || failed=1; done; \
	[ $$failed -eq 0 ] && [ $$ran -eq 1 ]

bench: setup
	$(PY) -m benchmarks

# Every kiosk screen in Chinese and English at 800x480, drawn offscreen, into docs/screenshots/.
screenshots: setup
	$(PY) -m terminal.ui.screenshots --out docs/screenshots --size 800x480 --languages zh,en
	$(PY) -m central.console.screenshots --out docs/screenshots
	$(PY) -m central.reports.screenshots --out docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info demo-data
