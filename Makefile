# Vigie — make demo / make test on a fresh Debian machine with a Swift 6 toolchain.

SWIFT ?= swift
STATE ?= demo-state
SEATS ?= 8
# Debian packages Vigie builds against or its tests and demo run.
APT_PACKAGES = pkg-config libssl-dev zlib1g-dev libxcb1-dev libxcb-shm0-dev libxcb-damage0-dev libturbojpeg0-dev libpng-dev \
               xvfb x11-utils x11-apps xfonts-base faketime chromium chromium-driver python3-selenium poppler-utils fonts-dejavu-core \
               libsqlite3-dev python3 python3-venv libvncserver-dev libxcb-xtest0-dev novnc libxcb-xfixes0-dev \
               tigervnc-viewer xdotool x11-xkb-utils
# Real seats: sd-login, and what checks the .deb, the units, the polkit rules and the LightDM script.
APT_PACKAGES += libsystemd-dev dpkg-dev lintian systemd nodejs x11-xserver-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test demo demo-stop bench clean deb deb-check fuzz seat-lab-deps seat-lab seat-lab-check seat-lab-down

all: build

## deps: install the Debian packages that are missing (apt-get)
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is needed (https://www.swift.org/install/linux/)"; exit 1; }
	@# A real third-party VNC client for the remote view's tests (PyPI; Debian has none that scripts captures),
	@# and python-xlib for its latency benchmark (scripts/bench-vnc.py).
	@[ -x .build-venv/bin/vncdo ] && .build-venv/bin/python -c 'import Xlib' 2>/dev/null || \
	  { /usr/bin/python3 -m venv .build-venv && .build-venv/bin/pip install -q vncdotool==1.4.2 python-xlib==0.33; }

## build: debug build of vigie, vigie-agent and vigie-ui
build: deps
	$(SWIFT) build

## release: optimised build (what the demo and the figures use)
release: deps
	$(SWIFT) build -c release

## test: every test: unit, then integration on Xvfb with real agents and TLS
## (run unprivileged: as the invoking user, or as the user vigie-test when
## root), then the seat lab (the .deb on a Debian 12 seat under QEMU, checks
## and attacks: make seat-lab-check). SEATLAB=0 leaves the seat lab out, and says so.
SEATLAB ?= 1
test: build
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/run-tests.sh
	@if [ "$(SEATLAB)" = 0 ]; then echo "make test: the seat lab was NOT run (SEATLAB=0): the package on a real seat is untested"; \
	else $(MAKE) --no-print-directory seat-lab-check; fi

## fuzz: libFuzzer on the frame decoder, request decoding, TOML config loader and event parser, FUZZ_SECONDS (60) each (docs/FUZZING.md)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= frame request config event
FUZZ_BUILD = $(SWIFT) build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DVIGIE_FUZZ \
             -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld -Xcxx -fsanitize=fuzzer-no-link,address
fuzz: deps
	$(FUZZ_BUILD) --product vigie-fuzz
	@bin="$$($(FUZZ_BUILD) --show-bin-path)/vigie-fuzz"; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p .build-fuzz/corpus/$$t .build-fuzz/artifacts/$$t; \
	  seeds="Fuzz/corpus/$$t"; [ -d Fuzz/crashes/$$t ] && seeds="$$seeds Fuzz/crashes/$$t"; \
	  dict=""; [ -f Fuzz/dict/$$t.dict ] && dict="-dict=Fuzz/dict/$$t.dict"; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$$bin" $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -max_len=16384 -detect_leaks=0 $$dict \
	    -artifact_prefix=.build-fuzz/artifacts/$$t/ .build-fuzz/corpus/$$t $$seeds || exit 1; \
	done

## demo: a demo school on this machine; Ctrl-C stops it
demo: release
	.build/release/vigie demo --state $(STATE) --seats $(SEATS)

## demo-stop: stop a demo started with `vigie demo --detach`
demo-stop:
	.build/release/vigie demo stop --state $(STATE)

## bench: measure the figures of docs/FIGURES.md (one-shot commands, capture, memory)
bench: release
	scripts/bench.sh

## deb: the seat's Debian package in dist/ (Swift runtime linked statically)
deb: deps
	$(SWIFT) build -c release --static-swift-stdlib
	scripts/make-deb.sh "$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)" dist

## deb-check: build the package, show it, lint it (fails on a lintian error), verify its units
deb-check: deb
	@deb=$$(ls -t dist/vigie-agent_*.deb | head -1); \
	dpkg-deb --info "$$deb" && dpkg-deb --contents "$$deb" && \
	node scripts/polkit-check.js Config/polkit/50-vigie.rules /usr/share/polkit-1/actions/org.freedesktop.login1.policy | tail -1 && \
	lintian --tag-display-limit 0 --fail-on error "$$deb"

## seat-lab-deps: QEMU and mmdebstrap for the seat lab (apt-get)
SEATLAB_APT_PACKAGES = qemu-system-x86 qemu-utils mmdebstrap e2fsprogs openssh-client python3
seat-lab-deps:
	@missing=$$(for p in $(SEATLAB_APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## seat-lab: a real Debian 12 seat under QEMU with the package installed
## (docs/SEATS.md, "The seat lab"); leaves it running: scripts/seat-lab/lab.sh ssh|vigie|qmp|down
seat-lab: seat-lab-deps deb
	scripts/seat-lab/lab.sh up

## seat-lab-check: boots a fresh seat lab, runs the end-to-end checks and attacks, powers it off
seat-lab-check: seat-lab-deps deb
	scripts/seat-lab/check.sh

seat-lab-down:
	scripts/seat-lab/lab.sh down

clean:
	rm -rf .build dist
