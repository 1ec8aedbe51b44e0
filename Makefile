# Vigie — make demo / make test on a fresh Debian machine with a Swift 6 toolchain.

SWIFT ?= swift
STATE ?= demo-state
SEATS ?= 8
# Debian packages Vigie builds against or its tests and demo run.
APT_PACKAGES = pkg-config libssl-dev zlib1g-dev libxcb1-dev libxcb-shm0-dev libpng-dev \
               xvfb x11-utils x11-apps xfonts-base faketime chromium poppler-utils fonts-dejavu-core \
               libsqlite3-dev python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test demo demo-stop bench clean

all: build

## deps: install the Debian packages that are missing (apt-get)
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "Swift 6 is needed (https://www.swift.org/install/linux/)"; exit 1; }

## build: debug build of vigie, vigie-agent and vigie-ui
build: deps
	$(SWIFT) build

## release: optimised build (what the demo and the figures use)
release: deps
	$(SWIFT) build -c release

## test: every test (unit, then integration on Xvfb with real agents and TLS)
test: build
	$(SWIFT) build --build-tests
	$(SWIFT) test

## demo: a demo school on this machine; Ctrl-C stops it
demo: release
	.build/release/vigie demo --state $(STATE) --seats $(SEATS)

## demo-stop: stop a demo started with `vigie demo --detach`
demo-stop:
	.build/release/vigie demo stop --state $(STATE)

## bench: measure the figures reported in the README
bench: release
	scripts/bench.sh

clean:
	rm -rf .build
