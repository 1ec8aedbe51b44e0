#!/usr/bin/env bash
# Vigie benchmark: measures the figures of issue 2 ("Figures to reach") and
# prints a report.
#
#   1. Console round trips from the shell to SEATS (default 10) demo seats on
#      loopback: `vigie message --all`, `vigie lock --all`, `vigie status --all`,
#      plus a start-up breakdown (`vigie --help`, a command whose only seat
#      refuses the connection, one seat). Target: median <= 30 ms.
#   2. Capture + PNG encoding of a 1920x1080 Xvfb display with
#      `vigie bench screen`. Targets: capture + level-1 encode <= 20 ms median,
#      320-px thumbnail <= 8 ms.
#   3. Memory of one idle agent (the only agent running), lock helper included: sum
#      of Pss from /proc/PID/smaps_rollup. Target <= 25 MiB.
#
# Usage:
#   make bench                                   # builds release, then runs this
#   BIN=$(swift build -c release --show-bin-path) scripts/bench.sh
#
# Environment:
#   BIN         folder holding vigie, vigie-agent, vigie-ui (default .build/release)
#   SEATS       seats for the round-trip figures (default 10)
#   RUNS        timed runs per command (default 30)
#   WARMUP      untimed runs before them (default 3)
#   ITERATIONS  iterations of `vigie bench screen` (default 30)
#   OUT         folder for raw results (default: a new folder under /tmp)
#
# Timing uses hyperfine (Debian package `hyperfine`) without an intermediate
# shell (-N) when it is installed, otherwise a loop on $EPOCHREALTIME.
# Everything the script starts is stopped on exit, failures included.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/.build/release}"
SEATS="${SEATS:-10}"
RUNS="${RUNS:-30}"
WARMUP="${WARMUP:-3}"
ITERATIONS="${ITERATIONS:-30}"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vigie-bench.XXXXXX")}"
PSS="$ROOT/scripts/pss.py"

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

[[ -d "$BIN" ]] || die "no binary folder $BIN (build first: swift build -c release)"
BIN="$(cd "$BIN" && pwd -P)"  # physical: the demo puts the real folder on PATH
for exe in vigie vigie-agent vigie-ui; do
    [[ -x "$BIN/$exe" ]] || die "$BIN/$exe is missing (build first: swift build -c release)"
done
command -v Xvfb >/dev/null || die "Xvfb is needed (apt-get install xvfb)"
command -v python3 >/dev/null || die "python3 is needed (for scripts/pss.py and JSON)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
HYPERFINE="$(command -v hyperfine || true)"

# --- Clean-up: everything started here, even on failure ---------------------

DEMO_STATES=()   # demo state folders to `vigie demo stop`
OWN_PIDS=()      # processes started directly by this script
OWN_DISPLAYS=()  # displays whose helper windows (message, lock) must not outlive us

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    for state in "${DEMO_STATES[@]}"; do
        "$BIN/vigie" demo stop --state "$state" >/dev/null 2>&1
    done
    for pid in "${OWN_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    # Message and lock windows are started by the agents in sessions of their
    # own; they exit when their Xvfb goes away, but make sure, by pid.
    sleep 0.3
    local d pid
    for d in "${OWN_DISPLAYS[@]}"; do
        for pid in $(pgrep -f "vigie-ui [a-z]+ --display $d( |\$)" 2>/dev/null); do
            kill "$pid" 2>/dev/null
        done
    done
    wait 2>/dev/null
    if [[ $status -ne 0 ]]; then
        echo "bench.sh: failed (status $status); logs and raw results kept in $OUT" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Helpers -----------------------------------------------------------------

# Results: NAME -> "median mean stddev min max user system" in ms.
declare -A STATS
declare -A COMMANDS   # NAME -> command as typed in a shell
declare -A PREPARES   # NAME -> preparation run (untimed) before each run

# time_cmd NAME PREPARE COMMAND [IGNORE_FAILURE]
# Times COMMAND (a shell-quoted string, run without an intermediate shell),
# RUNS times after WARMUP runs, PREPARE (may be empty) untimed before each.
time_cmd() {
    local name=$1 prepare=$2 cmd=$3 ignore=${4:-}
    local json="$OUT/$name.json"
    COMMANDS[$name]=$cmd
    PREPARES[$name]=$prepare
    log "timing $name: $cmd${prepare:+ (prepare: $prepare)}"
    if [[ -n "$HYPERFINE" ]]; then
        local args=(-N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$json")
        [[ -n "$prepare" ]] && args+=(--prepare "$prepare")
        [[ -n "$ignore" ]] && args+=(-i)
        "$HYPERFINE" "${args[@]}" "$cmd" >"$OUT/$name.hyperfine.txt" 2>&1 \
            || { cat "$OUT/$name.hyperfine.txt" >&2; die "$name failed"; }
    else
        # Fallback: one fork+exec per run from this shell, wall time from
        # $EPOCHREALTIME (microseconds, no extra process).
        local i t0 t1 times=()
        for ((i = 0; i < WARMUP + RUNS; i++)); do
            [[ -n "$prepare" ]] && { eval "$prepare" >/dev/null 2>&1 || true; }
            t0=$EPOCHREALTIME
            if ! eval "$cmd" >/dev/null 2>&1 && [[ -z "$ignore" ]]; then die "$name failed: $cmd"; fi
            t1=$EPOCHREALTIME
            ((i >= WARMUP)) && times+=("$(python3 -c "print(($t1 - $t0))")")
        done
        python3 - "$json" "${times[@]}" <<'EOF'
import json, sys
times = [float(t) for t in sys.argv[2:]]
json.dump({"results": [{"times": times, "user": None, "system": None}]}, open(sys.argv[1], "w"))
EOF
    fi
    STATS[$name]=$(python3 - "$json" <<'EOF'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = [x * 1000 for x in r["times"]]
ms = lambda x: "nan" if x is None else f"{x * 1000:.2f}"
print(f"{statistics.median(t):.2f} {statistics.mean(t):.2f} {statistics.pstdev(t):.2f} "
      f"{min(t):.2f} {max(t):.2f} {ms(r.get('user'))} {ms(r.get('system'))}")
EOF
)
}

median_of() { local s=(${STATS[$1]}); echo "${s[0]}"; }

# CPU time (utime + stime, in clock ticks) used so far by the given pids.
cpu_ticks() {
    local pid total=0 f
    for pid in "$@"; do
        # Fields after "(comm) ": state is f[0], utime f[11], stime f[12].
        read -ra f <<<"$(sed 's/.*) //' "/proc/$pid/stat")" || continue
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# demo_field STATE PYTHON-EXPR: reads demo.json (as `d`) and prints EXPR.
demo_field() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1/demo.json"
}

# start_demo STATE SEATS: starts a detached demo and records it for clean-up.
start_demo() {
    local state=$1 n=$2
    DEMO_STATES+=("$state")
    "$BIN/vigie" demo --seats "$n" --state "$state" --detach >"$state.log" 2>&1 \
        || { cat "$state.log" >&2; die "vigie demo --seats $n failed"; }
    local d
    for d in $(demo_field "$state" "' '.join(s['display'] for s in d['seats'])"); do OWN_DISPLAYS+=("$d"); done
}

# verdict MEASURED TARGET: "ok" when MEASURED <= TARGET.
verdict() { python3 -c "import sys; print('ok' if float(sys.argv[1]) <= float(sys.argv[2]) else 'MISSED')" "$1" "$2"; }

log "binaries: $BIN"
log "raw results: $OUT"
log "machine: $(nproc) cores, $(uname -r), timing with ${HYPERFINE:-a shell loop}"

# --- 2. Capture + PNG encoding on a 1920x1080 display ------------------------
# Run first, on a quiet machine (no demo yet).

log "screen: starting Xvfb 1920x1080x24"
exec {fdfile}>"$OUT/xvfb.displayfd"
Xvfb -displayfd "$fdfile" -screen 0 1920x1080x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
OWN_PIDS+=($!)
exec {fdfile}>&-
for _ in $(seq 100); do [[ -s "$OUT/xvfb.displayfd" ]] && break; sleep 0.1; done
[[ -s "$OUT/xvfb.displayfd" ]] || die "Xvfb did not start (see $OUT/xvfb.log)"
BENCH_DISPLAY=":$(head -n1 "$OUT/xvfb.displayfd" | tr -d '[:space:]')"
OWN_DISPLAYS+=("$BENCH_DISPLAY")

# Something realistic on screen: the seat backdrop, a clock and a logo.
"$BIN/vigie-ui" backdrop --display "$BENCH_DISPLAY" --title Bench >"$OUT/backdrop.log" 2>&1 &
OWN_PIDS+=($!)
if command -v xclock >/dev/null; then
    xclock -display "$BENCH_DISPLAY" -geometry 300x300+200+200 -update 1 >/dev/null 2>&1 &
    OWN_PIDS+=($!)
fi
if command -v xlogo >/dev/null; then
    xlogo -display "$BENCH_DISPLAY" -geometry 400x400+1200+300 >/dev/null 2>&1 &
    OWN_PIDS+=($!)
fi
sleep 1.5

SCREEN_CMD="vigie bench screen --display $BENCH_DISPLAY --iterations $ITERATIONS"
log "screen: $SCREEN_CMD"
"$BIN/vigie" bench screen --display "$BENCH_DISPLAY" --iterations "$ITERATIONS" | tee "$OUT/screen.txt" >&2
declare -A SCREEN
# Sizes and flags come out as "1920.00 ms": keep them as integers.
while read -r key value _; do
    case $key in width | height | shm | png1Bytes | png6Bytes) value=${value%%.*} ;; esac
    SCREEN[$key]=$value
done <"$OUT/screen.txt"
[[ -n "${SCREEN[captureEncode1]:-}" ]] || die "vigie bench screen printed no captureEncode1"

# The screen bench's Xvfb and clients are done: stop them now, so that they
# neither take CPU from the round trips nor share pages with the agent.
for pid in "${OWN_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
OWN_PIDS=()

# --- 3. Memory of one idle agent, lock helper included -----------------------
# The agent must be alone, or its shared pages would be split with the other
# agents and PSS would flatter it: `vigie demo` starts two seats at least, so
# the second seat's agent is stopped (by pid) before measuring.

log "memory: starting a two-seat demo, stopping the second agent"
MEM_STATE="$OUT/mem-state"
start_demo "$MEM_STATE" 2
OTHER_AGENT=$(demo_field "$MEM_STATE" "d['seats'][1]['pid']")
kill "$OTHER_AGENT"
# The demo's backdrops (vigie-ui) stand in for a desktop but map the Swift
# runtime like the agent does, which would lower its PSS: stop them too.
for pid in $(demo_field "$MEM_STATE" "' '.join(str(s['backdropPid']) for s in d['seats'] if s.get('backdropPid'))"); do
    kill "$pid" 2>/dev/null || true
done
for _ in $(seq 50); do kill -0 "$OTHER_AGENT" 2>/dev/null || break; sleep 0.1; done
MEM_SEAT=$(demo_field "$MEM_STATE" "d['seats'][0]['id']")
MEM_AGENT=$(demo_field "$MEM_STATE" "d['seats'][0]['pid']")
MEM_DISPLAY=$(demo_field "$MEM_STATE" "d['seats'][0]['display']")
(
    # shellcheck disable=SC1091
    source "$MEM_STATE/env.admin"
    sleep 2
    python3 "$PSS" "$MEM_AGENT" >"$OUT/pss-unlocked.txt"
    vigie lock --seat "$MEM_SEAT" >"$OUT/mem-lock.txt" 2>&1 || { cat "$OUT/mem-lock.txt" >&2; exit 1; }
    sleep 2
    LOCK_PID=$(pgrep -f "vigie-ui lock --display $MEM_DISPLAY( |\$)" | head -n1)
    [[ -n "$LOCK_PID" ]] || { echo "no lock helper found for $MEM_DISPLAY" >&2; exit 1; }
    python3 "$PSS" "$MEM_AGENT" "$LOCK_PID" >"$OUT/pss-locked.txt"
    # PSS falls when unrelated processes share the same pages: note the
    # upper bound (nothing else sharing) and who else maps the Swift runtime.
    python3 "$PSS" --alone "$MEM_AGENT" "$LOCK_PID" >"$OUT/alone-locked.txt" 2>/dev/null || echo "?" >"$OUT/alone-locked.txt"
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid == "$MEM_AGENT" || $pid == "$LOCK_PID" ]] && continue
        grep -q 'libswiftCore.so' "$p/maps" 2>/dev/null || continue
        echo "$pid $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-100)"
    done >"$OUT/sharers.txt"
    vigie unlock --seat "$MEM_SEAT" >/dev/null 2>&1 || true
) || die "memory measurement failed"
"$BIN/vigie" demo stop --state "$MEM_STATE" >/dev/null 2>&1 || true
cat "$OUT/pss-unlocked.txt" "$OUT/pss-locked.txt" >&2
# Columns of pss.py: pid, Pss KiB, Rss KiB, private KiB, command; last line is the total.
PSS_UNLOCKED=$(awk '$1 == "total" {print $2}' "$OUT/pss-unlocked.txt")
PSS_AGENT_LOCKED=$(awk 'NR == 1 {print $2}' "$OUT/pss-locked.txt")
PSS_LOCK=$(awk 'NR == 2 {print $2}' "$OUT/pss-locked.txt")
PSS_LOCKED=$(awk '$1 == "total" {print $2}' "$OUT/pss-locked.txt")
RSS_LOCKED=$(awk '$1 == "total" {print $3}' "$OUT/pss-locked.txt")
ALONE_LOCKED=$(cat "$OUT/alone-locked.txt")
SHARERS=$(wc -l <"$OUT/sharers.txt")
mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1024:.1f}')" "$1"; }

# --- 1. Console round trips to SEATS seats -----------------------------------

log "round trips: starting a $SEATS-seat demo"
STATE="$OUT/demo-state"
start_demo "$STATE" "$SEATS"
# shellcheck disable=SC1091
source "$STATE/env.admin"   # admin: --all reaches every seat of every room
[[ "$(command -v vigie)" == "$BIN/vigie" ]] || die "env.admin does not put $BIN first on PATH"
AGENT_PIDS=($(demo_field "$STATE" "' '.join(str(s['pid']) for s in d['seats'])"))
FIRST_SEAT=$(demo_field "$STATE" "d['seats'][0]['id']")
REACHED=$(vigie status --all --json | grep -c '"status":"ok"' || true)
[[ "$REACHED" == "$SEATS" ]] || die "vigie status --all reached $REACHED of $SEATS seats"

# A copy of the config in which the first seat's address refuses connections:
# start-up, config, identity and event loop, without any TLS.
sed "0,/^address = .*/s//address = \"127.0.0.1:1\"/" "$VIGIE_CONFIG" >"$OUT/refused.toml"

declare -A AGENT_CPU   # NAME -> agent CPU ms per timed run (all agents, prepare included)
timed() {
    local name=$1
    local before after
    before=$(cpu_ticks "${AGENT_PIDS[@]}")
    time_cmd "$@"
    after=$(cpu_ticks "${AGENT_PIDS[@]}")
    AGENT_CPU[$name]=$(python3 -c "import sys; print(f'{(int(sys.argv[1]) - int(sys.argv[2])) * 1000 / int(sys.argv[3]) / int(sys.argv[4]):.1f}')" \
        "$after" "$before" "$CLK_TCK" "$((RUNS + WARMUP))")
}

timed exec_true    ""                   "true"
timed help         ""                   "vigie --help"
timed refused      ""                   "vigie status --seat $FIRST_SEAT --config $OUT/refused.toml" ignore
timed status_one   ""                   "vigie status --seat $FIRST_SEAT"
timed status_all   ""                   "vigie status --all"
# One seat: the cost of the seat's helper window (vigie-ui) without the
# ten-way contention for two cores.
timed message_one  ""                   "vigie message --seat $FIRST_SEAT 'Benchmark message'"
timed lock_one     "vigie unlock --seat $FIRST_SEAT" "vigie lock --seat $FIRST_SEAT"
timed message_all  ""                   "vigie message --all 'Benchmark message'"
timed lock_all     "vigie unlock --all" "vigie lock --all"
timed unlock_all   "vigie lock --all"   "vigie unlock --all"
vigie unlock --all >/dev/null 2>&1 || true

# The agent of the first seat after all those commands (nine other agents
# share its pages here, so this PSS is lower than a lone agent's).
python3 "$PSS" "${AGENT_PIDS[0]}" >"$OUT/pss-after-load.txt" 2>&1 || true
HELPERS_LEFT=0
for d in $(demo_field "$STATE" "' '.join(s['display'] for s in d['seats'])"); do
    HELPERS_LEFT=$((HELPERS_LEFT + $(pgrep -fc "vigie-ui message --display $d( |\$)" || true)))
done

# --- Report ------------------------------------------------------------------

REPORT="$OUT/report.txt"
{
    echo
    echo "Vigie figures — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)"
    echo "binaries: $BIN ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git status --porcelain -- Sources Package.swift 2>/dev/null | wc -l | awk '$1 > 0 {print ", " $1 " files changed under Sources/ or Package.swift since"}'))"
    echo "timing: ${HYPERFINE:+hyperfine -N }$RUNS runs after $WARMUP warm-up, $SEATS seats on loopback, admin identity"
    echo
    printf '%-40s %10s %8s %-7s %s\n' "figure" "measured" "target" "verdict" "command"
    printf '%-40s %10s %8s %-7s %s\n' "------" "--------" "------" "-------" "-------"
    row() { printf '%-40s %10s %8s %-7s %s\n' "$1" "$2" "$3" "$4" "$5"; }
    for name in message_all lock_all status_all; do
        m=$(median_of $name)
        row "$name ($SEATS seats), median" "$m ms" "30 ms" "$(verdict "$m" 30)" "${COMMANDS[$name]}"
    done
    row "capture + PNG level 1 (1920x1080)" "${SCREEN[captureEncode1]} ms" "20 ms" \
        "$(verdict "${SCREEN[captureEncode1]}" 20)" "$SCREEN_CMD"
    row "thumbnail 320 px (scale + PNG 1)" "${SCREEN[thumbnail]} ms" "8 ms" \
        "$(verdict "${SCREEN[thumbnail]}" 8)" "$SCREEN_CMD"
    row "idle agent + lock, PSS" "$(mib "$PSS_LOCKED") MiB" "25 MiB" \
        "$(verdict "$(mib "$PSS_LOCKED")" 25)" "scripts/pss.py AGENT LOCK (lone agent, seat locked, +2 s)"
    echo
    echo "Round trips, ms (wall: median mean ±sd [min..max]; CLI CPU user+sys mean; agents' CPU per run, prepare included):"
    for name in exec_true help refused status_one status_all message_one message_all lock_one lock_all unlock_all; do
        s=(${STATS[$name]})
        cpu="n/a"
        [[ "${s[5]}" != nan ]] && cpu=$(python3 -c "import sys; print(f'{float(sys.argv[1]) + float(sys.argv[2]):.1f}')" "${s[5]}" "${s[6]}")
        printf '  %-12s %7s %7s ±%-6s [%s..%s]  cli cpu %5s  agents cpu %5s   %s%s\n' "$name" "${s[0]}" "${s[1]}" "${s[2]}" \
            "${s[3]}" "${s[4]}" "$cpu" "${AGENT_CPU[$name]}" "${COMMANDS[$name]}" "${PREPARES[$name]:+  (prepare: ${PREPARES[$name]})}"
    done
    echo
    echo "Screen ($BENCH_DISPLAY, ${SCREEN[width]:-?}x${SCREEN[height]:-?}, MIT-SHM $([[ ${SCREEN[shm]:-0} == 1 ]] && echo yes || echo no)), medians of $ITERATIONS:"
    for key in capture encode1 captureEncode1 encode6 thumbnail; do
        printf '  %-16s %8s ms\n' "$key" "${SCREEN[$key]}"
    done
    printf '  %-16s %8s bytes (level 1), %s bytes (level 6)\n' "png size" "${SCREEN[png1Bytes]:-?}" "${SCREEN[png6Bytes]:-?}"
    echo
    echo "Memory (lone agent: $MEM_SEAT on $MEM_DISPLAY, the demo's other agent and backdrops stopped), KiB:"
    echo "  agent unlocked:  Pss $PSS_UNLOCKED"
    echo "  agent locked:    Pss $PSS_AGENT_LOCKED"
    echo "  lock helper:     Pss $PSS_LOCK"
    echo "  agent + lock:    Pss $PSS_LOCKED ($(mib "$PSS_LOCKED") MiB), Rss $RSS_LOCKED ($(mib "$RSS_LOCKED") MiB)"
    echo "  agent + lock if nothing else shared their pages: $ALONE_LOCKED KiB ($( [[ $ALONE_LOCKED == "?" ]] && echo "?" || mib "$ALONE_LOCKED") MiB; pss.py --alone, upper bound)"
    echo "  other processes mapping libswiftCore.so meanwhile (they lower Pss): $SHARERS"
    sed 's/^/    /' "$OUT/sharers.txt"
    echo "  pss.py detail (pid, Pss, Rss, Private, command):"
    sed 's/^/    /' "$OUT/pss-locked.txt"
    echo "  first agent of the $SEATS-seat demo after the round trips (pages shared with $((SEATS - 1)) agents):"
    sed 's/^/    /' "$OUT/pss-after-load.txt"
    echo
    echo "Message windows left open on the seats after the runs: $HELPERS_LEFT (closed on exit)"
    echo "Raw results: $OUT (hyperfine JSON per command, screen.txt, pss-*.txt)"
    echo "Reproduce: BIN=$BIN RUNS=$RUNS WARMUP=$WARMUP SEATS=$SEATS ITERATIONS=$ITERATIONS scripts/bench.sh"
} | tee "$REPORT"

# Demo state folders hold keys and logs: drop them on success.
for state in "${DEMO_STATES[@]}"; do
    "$BIN/vigie" demo stop --state "$state" >/dev/null 2>&1 || true
done
rm -rf "$MEM_STATE" "$STATE"
DEMO_STATES=()
