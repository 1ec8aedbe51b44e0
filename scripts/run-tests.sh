#!/usr/bin/env bash
# Runs the test suite the way a school runs Vigie: unprivileged. The agents,
# the server and the consoles the tests start all run as the user running the
# tests; when that is root (CI, a fresh machine), an unprivileged test user is
# created and the tests run as that user, so that no privilege assumption can
# hide (an agent that needs CAP_NET_ADMIN, a key only root can read...).
# Building stays with the caller (root may install packages and build).
#
#   scripts/run-tests.sh [swift test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
swift_path=$(command -v "$swift")

bin=$("$swift_path" build --show-bin-path)
tests="$bin/VigiePackageTests.xctest"
[ -x "$tests" ] || { echo "run-tests: $tests is missing; build first: $swift build --build-tests" >&2; exit 1; }

# At most this many tests at once (Swift Testing starts every suite together):
# on two cores, dozens of Xvfb displays, agents and consoles at once made
# timing-sensitive tests fail for want of CPU, not for a fault of the code.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}

# The console session's tests judge timings of one process's own tasks (a
# recycle before the seat's idle limit, a heartbeat within the seat's limit):
# in a full run they go first, on their own, then everything else together.
alone="ConsoleSessionTests"

if [ "$(id -u)" != 0 ]; then
  if [ $# -gt 0 ]; then exec "$swift_path" test --skip-build "$@"; fi
  status=0
  "$swift_path" test --skip-build --filter "$alone" || status=1
  "$swift_path" test --skip-build --skip "$alone" || status=1
  exit $status
fi

user=${VIGIE_TEST_USER:-vigie-test}
home=/var/lib/$user
if ! id "$user" >/dev/null 2>&1; then
  echo "run-tests: creating the unprivileged test user $user"
  useradd --system --create-home --home-dir "$home" --shell /usr/sbin/nologin "$user"
fi
mkdir -p "$home" && chown "$user:" "$home"

# The test user reads the sources and the built products and writes its
# temporary folders under /tmp. Every folder above the checkout must let it
# through (a checkout under /root would not).
dir=$(pwd)
while [ "$dir" != / ]; do
  if ! runuser -u "$user" -- test -x "$dir"; then
    echo "run-tests: letting $user traverse $dir (o+x)"
    chmod o+x "$dir"
  fi
  dir=$(dirname "$dir")
done
if ! runuser -u "$user" -- test -x "$swift_path"; then
  echo "run-tests: $user cannot run $swift_path; install Swift where every user can run it" >&2
  exit 1
fi
# The suite is Swift Testing's: run the built test binary itself (what
# `swift test` runs), so that SwiftPM's lock files, made by root's build, stay root's.
echo "run-tests: running the tests as $user (uid $(id -u "$user")), not as root"
as_test_user() {
  runuser -u "$user" -- env HOME="$home" PATH="$PATH" LANG="${LANG:-C.UTF-8}" NO_COLOR=1 \
    SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="$SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH" \
    "$tests" --testing-library swift-testing "$@"
}
if [ $# -gt 0 ]; then
  as_test_user "$@"
  exit $?
fi
status=0
as_test_user --filter "$alone" || status=1
as_test_user --skip "$alone" || status=1
exit $status
