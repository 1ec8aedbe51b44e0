#!/usr/bin/python3
"""The live overview's figures (docs/FIGURES.md, "Live overview"), measured with a real
Chromium on the dashboard of `vigie watch`:

    scripts/bench-overview.py load BIN_DIR [SEATS] [SECONDS]
        SEATS (30) simulated seats of `vigie-dev harness --changing-screens` (a new
        picture every second from every seat), watched at 1 picture/s: the CPU and
        the resident memory of the `vigie-watch` process over SECONDS (60).
    scripts/bench-overview.py latency BIN_DIR [SAMPLES]
        A demo school's seat (real agent, Xvfb): a window is mapped on its display,
        and the time until the page shows the new picture is taken, SAMPLES (20) times.

BIN_DIR holds vigie, vigie-watch and vigie-dev (a release build). Needs chromium,
chromium-driver and python3-selenium (make deps).
"""
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def browser():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1920,1080"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def env_of(path):
    env = dict(os.environ)
    for line in open(path):
        m = re.match(r"export (\w+)='?(.*?)'?$", line.strip())
        if m:
            env[m.group(1)] = m.group(2).replace("'", "")
    return env


def start_watch(bin_dir, env, args):
    watch = subprocess.Popen([bin_dir + "/vigie", "watch", "--no-browser"] + args, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = watch.stdout.readline()
    url = line.split()[-1]
    # `vigie watch` execs vigie-watch: same pid.
    return watch, url


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return rss, hwm


def load(bin_dir, seats=30, seconds=60):
    state = tempfile.mkdtemp(prefix="vigie-bench-overview-")
    harness = subprocess.Popen([bin_dir + "/vigie-dev", "harness", "--seats", str(seats), "--state", state, "--changing-screens"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert harness.stdout.readline().startswith("ready"), "the harness did not start"
    watch, url = start_watch(bin_dir, env_of(state + "/env"), ["--all", "--interval", "1"])
    driver = browser()
    try:
        driver.get(url)
        count = "return [...document.querySelectorAll('.tile img')].filter(i => i.complete && i.naturalWidth > 0).length"
        end = time.time() + 60
        while time.time() < end and driver.execute_script(count) < seats:
            time.sleep(0.2)
        shown = driver.execute_script(count)
        time.sleep(5)  # past the start-up
        c0, t0 = cpu_seconds(watch.pid), time.time()
        rss = []
        while time.time() - t0 < seconds:
            time.sleep(1)
            rss.append(memory(watch.pid)[0])
        c1, t1 = cpu_seconds(watch.pid), time.time()
        hwm = memory(watch.pid)[1]
        print(f"{seats} seats, {shown} tiles showing a picture, 1 picture/s each, {seconds} s:")
        print(f"  vigie-watch CPU: {100 * (c1 - c0) / (t1 - t0):.1f} % of one core")
        print(f"  vigie-watch resident memory: {statistics.median(rss):.1f} MiB median, {max(rss):.1f} MiB max (peak {hwm:.1f} MiB)")
    finally:
        driver.quit()
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
        harness.send_signal(signal.SIGINT)
        harness.wait(timeout=30)


def latency(bin_dir, samples=20):
    state = tempfile.mkdtemp(prefix="vigie-bench-latency-")
    subprocess.run([bin_dir + "/vigie-dev", "demo", "start", "--seats", "2", "--state", state, "--detach"],
                   check=True, stdout=subprocess.DEVNULL)
    env = env_of(state + "/env")
    watch, url = start_watch(bin_dir, env, ["--seat", "B204-01", "--interval", "1"])
    driver = browser()
    display = ":" + re.search(r'"display"\s*:\s*":(\d+)"', open(state + "/demo.json").read()).group(1)
    try:
        driver.get(url)
        src = "const i = document.querySelector('.tile img'); return i && i.complete && i.naturalWidth > 0 ? i.src : null"
        while not driver.execute_script(src):
            time.sleep(0.05)
        delays = []
        for n in range(samples):
            # A still screen first (the change is the only one), then a random phase
            # against the seat's 1-s tick, so the samples are not locked to it.
            time.sleep(1.5 + random.random())
            before = driver.execute_script(src)
            t0 = time.time()
            window = subprocess.Popen(["xmessage", "-display", display, "-geometry", f"+{100 + 30 * n}+{100 + 20 * n}", f"change {n}"],
                                      stderr=subprocess.DEVNULL)
            while driver.execute_script(src) == before and time.time() - t0 < 10:
                time.sleep(0.01)
            delays.append(time.time() - t0)
            window.terminate()
            window.wait()
            # Its disappearance is a change too: let it go through.
            time.sleep(1.5)
        delays.sort()
        p95 = delays[max(0, int(round(0.95 * len(delays))) - 1)]
        print(f"change on the seat → new tile in Chromium, {samples} samples at 1 picture/s:")
        print(f"  median {statistics.median(delays):.2f} s, p95 {p95:.2f} s, max {max(delays):.2f} s")
    finally:
        driver.quit()
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
        subprocess.run([bin_dir + "/vigie-dev", "demo", "stop", "--state", state], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    what, bin_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    rest = [int(a) for a in sys.argv[3:]]
    {"load": load, "latency": latency}[what](bin_dir, *rest)
