#!/bin/sh
# seat-lab end-to-end checks (see check.py); last line: "N passed, N failed".
exec python3 "$(dirname "$0")/check.py" "$@"
