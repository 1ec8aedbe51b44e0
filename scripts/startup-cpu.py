#!/usr/bin/env python3
"""CPU time (user + system) a command costs, averaged over N runs.

    scripts/startup-cpu.py N COMMAND [ARGS…]

Used for the start-up figures of docs/FIGURES.md ("Console start-up"):
`vigie --help` against a Swift hello-world built with the same toolchain and
flags. CPU time, not wall time: it barely moves with the machine's load.
"""
import resource
import subprocess
import sys

n = int(sys.argv[1])
cmd = sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
for _ in range(n):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / n * 1000
print(f"{cpu:.1f} ms CPU per run over {n} runs: {' '.join(cmd)}")
