#!/usr/bin/env python3
"""Print the proportional set size (PSS) of processes, from /proc/PID/smaps_rollup.

Usage: scripts/pss.py [--kib | --alone] PID [PID ...]

One line per pid: "pid Pss Rss Private command" (sizes in KiB; Private is
Private_Clean + Private_Dirty, the pages no other process shares), then a
"total" line with the same columns. Exits with status 1 if a pid is gone or
its smaps_rollup cannot be read (another user's process needs the rights of
ptrace). With --kib, prints only the total Pss in KiB, for scripts.

PSS splits a shared page among every process mapping it, so it falls when
unrelated processes (a `swift build`, other agents) map the same libraries.
With --alone, prints instead the KiB of distinct physical pages the given
processes map (from /proc/PID/pagemap, root only): their PSS if nothing else
on the machine shared a page with them, an upper bound.
"""
import os
import struct
import sys


def rollup(pid):
    """(Pss, Rss, Private) of /proc/PID/smaps_rollup, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields.get("Pss", 0), fields.get("Rss", 0), private


def distinct_pages_kib(pids):
    """KiB of the distinct physical pages mapped by `pids` (pagemap PFNs)."""
    page = os.sysconf("SC_PAGE_SIZE")
    frames = set()
    for pid in pids:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                if line.rstrip().endswith("[vsyscall]"):
                    continue
                pagemap.seek(start // page * 8)
                data = pagemap.read((end - start) // page * 8)
                for (entry,) in struct.iter_unpack("<Q", data):
                    pfn = entry & ((1 << 55) - 1)
                    if entry >> 63 and pfn:  # present, PFN visible (needs CAP_SYS_ADMIN)
                        frames.add(pfn)
    if not frames:
        raise PermissionError("no page frame numbers visible (run as root)")
    return len(frames) * page // 1024


def command(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(a.decode(errors="replace") for a in f.read().split(b"\0") if a)
    except OSError:
        return "?"


def main(argv):
    only_total = "--kib" in argv
    alone = "--alone" in argv
    pids = [a for a in argv if a not in ("--kib", "--alone")]
    if not pids or not all(p.isdigit() for p in pids):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if alone:
        try:
            print(distinct_pages_kib(pids))
        except OSError as e:
            print(f"pss.py: {e}", file=sys.stderr)
            return 1
        return 0
    total = [0, 0, 0]
    for pid in pids:
        try:
            sizes = rollup(pid)
        except OSError as e:
            print(f"pss.py: pid {pid}: {e.strerror}", file=sys.stderr)
            return 1
        total = [t + s for t, s in zip(total, sizes)]
        if not only_total:
            print(f"{pid:>8} {sizes[0]:>8} {sizes[1]:>8} {sizes[2]:>8}  {command(pid)[:120]}")
    if only_total:
        print(total[0])
    else:
        print(f"{'total':>8} {total[0]:>8} {total[1]:>8} {total[2]:>8}  ({total[0] / 1024:.2f} MiB Pss)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
