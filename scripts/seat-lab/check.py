#!/usr/bin/env python3
"""seat-lab end-to-end checks on a real Debian 12 seat under QEMU.

    check.py [--keep] [--reuse] [CHECK…]
                          boots a fresh lab (lab.sh up), runs every check in order,
                          powers the VM off (unless --keep), and prints
                          "N passed, N failed" on its last line (exit 1 if any failed).

Figures (timings, keystrokes leaked under each attack) are written to
$SEATLAB_CACHE/run/figures.json; screenshots to $SEATLAB_CACHE/run/shots/
(or $SEATLAB_SHOTS, e.g. docs/seat-lab to refresh the README's pictures).
"""
import contextlib
import json
import re
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(HERE, "lab.sh")
CACHE = os.environ.get("SEATLAB_CACHE", os.path.join(REPO, ".build-seatlab"))
RUN = os.path.join(CACHE, "run")
# Screenshots of the guest's screen (QEMU screendump, independent of Vigie): in
# the run's folder; SEATLAB_SHOTS=docs/seat-lab refreshes the README's pictures.
SHOTS = os.path.abspath(os.environ.get("SEATLAB_SHOTS", os.path.join(RUN, "shots")))
SEAT = "LAB-01"
# Title band colours of vigie-ui's windows (VigieScreen MessageWindow.bandRGB, NoticeWindow.bandRGB).
MESSAGE_BAND = 0x14213D
NOTICE_BAND = 0x2E6B4F
INDICATOR_BAND = 0xFFD166  # VigieScreen Indicator.backgroundRGB
CONTROL_BAND = 0xC0392B  # VigieScreen Indicator.controlBackgroundRGB: someone has the keyboard and mouse
TOOLS = "/opt/seatlab-tools"  # copied in at the start of each run (push_tools)
sys.path.insert(0, HERE)
import qmp as Q  # noqa: E402

figures = {}
results = []


class Failed(Exception):
    pass


def run(args, timeout=120, check=False):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Failed(f"{' '.join(args)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}")
    return p


def gssh(cmd, timeout=120, check=False):
    return run([LAB, "ssh", cmd], timeout, check)


def pupil(cmd, timeout=120, check=False):
    return run([LAB, "pupil", cmd], timeout, check)


def vigie(*args, timeout=60):
    return run([LAB, "vigie", *args], timeout)


def poll(what, fn, deadline=30.0, every=0.2):
    t0 = time.monotonic()
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() - t0 > deadline:
            raise Failed(f"no {what} after {deadline:.0f} s")
        time.sleep(every)


def qmp():
    return Q.QMP(os.path.join(RUN, "qmp.sock"))


def shot(name, band=None):
    q = qmp()
    try:
        return Q.screendump(q, os.path.join(SHOTS, name), band)
    finally:
        q.close()


def typed_size():
    out = gssh("stat -c %s /tmp/typed 2>/dev/null || echo 0", check=True).stdout.strip()
    return int(out)


def type_keys(n, interval=0.1, ch="x"):
    q = qmp()
    try:
        for _ in range(n):
            Q.press(q, [ch])
            time.sleep(interval)
    finally:
        q.close()


def grab_state():
    return pupil(f"python3 {TOOLS}/grab-probe.py once", check=True).stdout.strip()


def status_line():
    p = vigie("status", "--seat", SEAT, "--json")
    return p.stdout.strip()


def agent_pid():
    return gssh("systemctl show -p MainPID --value vigie-agent").stdout.strip()


def pupil_sessions():
    out = gssh("loginctl list-sessions --no-legend | awk '$3 == \"pupil\" {print $1}'").stdout.split()
    live = []
    for sid in out:
        st = gssh(f"loginctl show-session {sid} -p State --value").stdout.strip()
        if st in ("active", "online"):
            live.append(sid)
    return live


def pupil_session_up():
    """The pupil's X session answers (its xterm runs, Vigie has the display)."""
    return gssh("pgrep -u pupil -x xterm >/dev/null && DISPLAY=:0 XAUTHORITY=/home/pupil/.Xauthority "
                "runuser -u pupil -- xhost 2>/dev/null | grep -q localuser:vigie").returncode == 0


def code_of(p):
    try:
        return json.loads(p.stdout.strip().splitlines()[-1]).get("code", "")
    except (ValueError, IndexError):
        return ""


def holder_devices():
    out = gssh("cat /run/vigie-input-hold/state.json 2>/dev/null").stdout.strip()
    try:
        st = json.loads(out)
    except ValueError:
        return None
    return st.get("devices", []) if st.get("locked") else []


def settle_quiet(seconds=2.0):
    # Keystrokes that are held arrive nowhere: nothing can be polled for, so
    # a bounded wait after the last key (QEMU→USB HID→evdev→X takes ms).
    time.sleep(seconds)


def check(fn):
    name = fn.__name__.replace("_", " ")
    t0 = time.monotonic()
    try:
        detail = fn() or ""
        results.append((name, True))
        print(f"ok    {name} ({time.monotonic() - t0:.1f} s) {detail}", flush=True)
    except Exception as e:  # noqa: BLE001 — every failure is reported, the run goes on
        results.append((name, False))
        print(f"FAIL  {name} ({time.monotonic() - t0:.1f} s): {e}", flush=True)


def push_tools():
    """The probe and the attacks, from scripts/seat-lab/tools/, into the guest."""
    gssh(f"install -d -m 0755 {TOOLS}", check=True)
    for name in sorted(n for n in os.listdir(os.path.join(HERE, "tools")) if n.endswith(".py")):
        with open(os.path.join(HERE, "tools", name), "rb") as f:
            p = subprocess.run([LAB, "ssh", f"cat > {TOOLS}/{name} && chmod 0755 {TOOLS}/{name}"], stdin=f,
                               capture_output=True, timeout=60)
        if p.returncode != 0:
            raise Failed(f"cannot copy {name} into the guest")


# ─── The checks, in order ────────────────────────────────────────────────────

def agent_runs_as_vigie_under_systemd():
    p = gssh("systemctl is-active vigie-agent; ps -o user= -C vigie-agent", check=True).stdout.split()
    if p[:2] != ["active", "vigie"]:
        raise Failed(f"systemctl/ps say {p}")
    return "active, user vigie"


def agent_follows_the_autologin_session():
    sess = gssh("loginctl show-seat seat0 -p ActiveSession --value", check=True).stdout.strip()
    info = gssh(f"loginctl show-session {sess} -p Name -p Type -p Display -p Class", check=True).stdout.split()
    if "Name=pupil" not in info or "Type=x11" not in info:
        raise Failed(f"seat0's session {sess}: {info}")
    log = gssh("journalctl -u vigie-agent -b --no-pager -o cat", check=True).stdout
    if "pupil" not in log:
        raise Failed("the agent's log never names the pupil's session:\n" + log[-800:])
    return f"session {sess} {' '.join(info)}"


def lock_from_the_host_holds_input():
    if grab_state() != "free":
        raise Failed("the keyboard is already held before the lock")
    probe = subprocess.Popen([LAB, "pupil", f"python3 {TOOLS}/grab-probe.py until held 30"],
                             stdout=subprocess.PIPE, text=True)
    if probe.stdout.readline().strip() != "ready":
        raise Failed("grab probe did not start")
    t0 = time.monotonic()
    p = vigie("lock", "--seat", SEAT)
    t_cmd = time.monotonic() - t0
    line = probe.stdout.readline().strip()
    t_held = time.monotonic() - t0
    probe.wait(timeout=10)
    if p.returncode != 0 or not line.startswith("held"):
        raise Failed(f"vigie lock: {p.stdout.strip()} {p.stderr.strip()}; probe: {line}")
    if code_of(vigie("lock", "--seat", SEAT, "--json")) != "lock.already":
        raise Failed("a second lock is not answered lock.already")
    st = status_line()
    if '"status.locked"' not in st:
        raise Failed(f"status after the lock: {st} (want status.locked: input held by vigie-input-hold)")
    figures["lock_command_s"] = round(t_cmd, 2)
    figures["lock_to_input_held_s"] = round(t_held, 2)
    return f"vigie lock answered in {t_cmd:.2f} s, keyboard held {t_held:.2f} s after the command"


def screenshot_shows_the_lock():
    w, h, mean, white = shot("locked.png")
    if white > 0.3:
        raise Failed(f"screen still mostly white (the xterm): white={white:.2f}")
    return f"{w}x{h} mean={mean:.0f} white={white:.2f}"


def keys_typed_while_locked_are_held():
    before = typed_size()
    type_keys(20, 0.05)
    settle_quiet()
    leaked = typed_size() - before
    figures["locked_keys_leaked"] = f"{leaked}/20"
    if leaked:
        raise Failed(f"{leaked} of 20 keystrokes reached the pupil's xterm")
    return "0 of 20 keystrokes reached the pupil's xterm"


def unlock_frees_the_seat():
    p = vigie("unlock", "--seat", SEAT)
    if p.returncode != 0:
        raise Failed(p.stdout + p.stderr)
    # Free below X too, by the time the unlock is answered: keys typed while
    # vigie-input-hold still held the devices would be lost, not queued (the agent
    # answers once the holder reports it let go).
    held = holder_devices()
    if held != []:
        raise Failed(f"vigie unlock answered while vigie-input-hold still held {held}")
    answered = time.monotonic()
    poll("free keyboard", lambda: grab_state() == "free", 30)
    # How soon typing works: one key at a time until one reaches the pupil's xterm
    # (a figure: keys lost right after an unlock show here), then ten in a row.
    probes, first = 0, None
    while first is None and time.monotonic() - answered < 30:
        before = typed_size()
        type_keys(1, 0, "v")
        probes += 1
        t = time.monotonic()
        while time.monotonic() - t < 1.0:
            if typed_size() > before:
                first = time.monotonic() - answered
                break
            time.sleep(0.05)
    if first is None:
        raise Failed(f"no key reached the pupil's xterm within 30 s of the unlock ({probes} typed)")
    figures["unlock_to_first_key_s"] = round(first, 2)
    before = typed_size()
    type_keys(10, 0.05, "u")
    poll("10 keystrokes in /tmp/typed", lambda: typed_size() - before >= 10, 30)
    w, h, mean, white = shot("unlocked.png")
    return f"first key through {first:.2f} s after the answer ({probes} typed for it), then 10/10 keystrokes; screen white={white:.2f}"


def vt_switch_and_zap_are_disabled():
    """Xorg's DontVTSwitch and DontZap (Config/xorg.conf.d/50-vigie.conf), sent
    as real key chords through the USB keyboard on the unlocked seat."""
    vt0 = gssh("cat /sys/class/tty/tty0/active", check=True).stdout.strip()
    xorg0 = gssh("pgrep -o -x Xorg", check=True).stdout.strip()
    q = qmp()
    try:
        Q.press(q, ["ctrl", "alt", "f2"], hold=0.1)
        time.sleep(0.5)
        Q.press(q, ["ctrl", "alt", "backspace"], hold=0.1)
    finally:
        q.close()
    settle_quiet()
    vt1 = gssh("cat /sys/class/tty/tty0/active", check=True).stdout.strip()
    xorg1 = gssh("pgrep -o -x Xorg").stdout.strip()
    if vt1 != vt0 or xorg1 != xorg0:
        raise Failed(f"VT {vt0}→{vt1}, Xorg pid {xorg0}→{xorg1 or 'gone'}")
    return f"Ctrl-Alt-F2: still on VT {vt1}; Ctrl-Alt-Backspace: Xorg {xorg1} still runs"


def lock_survives_agent_restart():
    vigie("lock", "--seat", SEAT)
    poll("keyboard held", lambda: grab_state() == "held", 30)
    pid0 = agent_pid()
    gssh("systemctl restart vigie-agent", check=True)
    poll("a new agent", lambda: agent_pid() not in ("", "0", pid0), 30)
    poll("agent answering", lambda: '"ok"' in status_line(), 60)
    st = status_line()
    if grab_state() != "held" or "locked" not in st:
        raise Failed(f"after restart: keyboard {grab_state()}, status {st}")
    return f"still held; status {st}"


def lock_survives_kill_9():
    pid0 = agent_pid()
    gssh(f"kill -9 {pid0}", check=True)
    poll("agent restarted by systemd", lambda: agent_pid() not in ("", "0", pid0), 30)
    held_during = grab_state()
    poll("agent answering", lambda: '"ok"' in status_line(), 60)
    st = status_line()
    if held_during != "held" or grab_state() != "held" or "locked" not in st:
        raise Failed(f"after kill -9: keyboard {held_during}/{grab_state()}, status {st}")
    return f"held throughout; status {st}"


def stop_exits_cleanly():
    gssh("systemctl stop vigie-agent", check=True)
    r = gssh("systemctl show vigie-agent -p Result -p ExecMainStatus -p ActiveState", check=True).stdout.split()
    held = grab_state()
    gssh("systemctl start vigie-agent", check=True)
    poll("agent answering", lambda: '"ok"' in status_line(), 60)
    if "Result=success" not in r or "ActiveState=inactive" not in r:
        raise Failed(f"after stop: {r}")
    return f"{' '.join(r)}; lock while stopped: {held}"


def attack(name, tool, ran, after=None, seconds=8, keys=60, interval=0.1):
    """Runs TOOL (a script of tools/ and its options) as the pupil for SECONDS
    while KEYS keystrokes are typed through the USB keyboard; fails if the tool
    did not print RAN (the attack was not mounted) or if any keystroke reached
    the pupil's clients (their xterm, or the attacker's own grab). AFTER runs
    once the attack is over, before the lock is expected back."""
    poll("keyboard held before the attack", lambda: grab_state() == "held", 30)
    gssh("rm -f /tmp/grabbed", check=True)
    before = typed_size()
    script, *options = tool.split()
    a = subprocess.Popen([LAB, "pupil", f"python3 {TOOLS}/{script} {seconds} /tmp/grabbed {' '.join(options)}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    poll("attack running", lambda: gssh(f"pgrep -u pupil -f {script}").returncode == 0, 30, 0.1)
    t0 = time.monotonic()
    type_keys(keys // 2, interval)
    status_during = status_line()
    type_keys(keys - keys // 2, interval)
    typing = time.monotonic() - t0
    out, _ = a.communicate(timeout=seconds + 60)
    out = out.strip().replace("\n", " ")
    settle_quiet()
    to_xterm = typed_size() - before
    grabbed = int(gssh("stat -c %s /tmp/grabbed 2>/dev/null || echo 0").stdout.strip() or 0)
    if after:
        after()
    poll("lock back after the attack", lambda: grab_state() == "held", 30)
    leaked = to_xterm + grabbed
    figures[name] = {"attack": tool, "keys": keys, "typing_s": round(typing, 1), "to_xterm": to_xterm,
                     "to_attacker": grabbed, "leaked": leaked, "attack_output": out,
                     "status_during": status_during, "status_after": status_line()}
    if ran not in out:
        raise Failed(f"the attack did not run: {out}")
    if leaked:
        raise Failed(f"leaked {leaked}/{keys} keystrokes ({out}); status during the attack: {status_during}")
    return f"leaked 0/{keys} ({out}); status during: {status_during}"


def attack_xkill_loop():
    return attack("attack_xkill_loop", "xkill-loop.py", "kills=")


def attack_xkill_on_creation():
    # Each lock window the agent brings back is killed as X creates it.
    return attack("attack_xkill_on_create", "xkill-loop.py --on-create", "on-create kills=")


def attack_kill_once_and_hold_grabs():
    return attack("attack_kill_once_hold_grabs", "grab-hold.py", "presses=")


def attack_revoke_vigies_x_access():
    return attack("attack_xhost_revoke", "grab-hold.py --revoke-vigie", "revoked=True",
                  after=lambda: pupil("xhost +si:localuser:vigie", check=True))


def hot_plugged_keyboard_is_held():
    poll("keyboard held", lambda: grab_state() == "held", 30)
    before_devices = holder_devices() or []
    q = qmp()
    try:
        q.command("device_add", driver="usb-kbd", id="kbd1", bus="xhci.0", display="video0")
    finally:
        q.close()
    try:
        devices = poll("the new keyboard held by vigie-input-hold",
                       lambda: (lambda d: d if d and len(d) > len(before_devices) else None)(holder_devices()), 30)
        before = typed_size()
        q = qmp()
        try:
            for _ in range(20):
                # input-send-event's `device` names a display: its events go to the
                # input device bound to it, the new keyboard (display=video0).
                Q.press(q, ["x"], device="video0")
                time.sleep(0.05)
        finally:
            q.close()
        settle_quiet()
        leaked = typed_size() - before
        figures["hotplug_keys_leaked"] = f"{leaked}/20"
        if leaked:
            raise Failed(f"{leaked} of 20 keystrokes of the hot-plugged keyboard reached the pupil's xterm")
        # The same keys do arrive once unlocked: they were the new keyboard's.
        vigie("unlock", "--seat", SEAT)
        poll("free keyboard", lambda: grab_state() == "free", 30)
        before = typed_size()
        q = qmp()
        try:
            for _ in range(5):
                Q.press(q, ["y"], device="video0")
                time.sleep(0.05)
        finally:
            q.close()
        poll("5 keystrokes of the new keyboard in /tmp/typed", lambda: typed_size() - before >= 5, 30)
    finally:
        q = qmp()
        try:
            q.command("device_del", id="kbd1")
        finally:
            q.close()
    return (f"held {len(devices)} devices (was {len(before_devices)}); 0 of 20 keystrokes of the new keyboard "
            f"arrived while locked, 5 of 5 once unlocked")


def message_is_shown():
    vigie("unlock", "--seat", SEAT)
    poll("free keyboard", lambda: grab_state() == "free", 30)
    p = vigie("message", "--seat", SEAT, "Enregistrez votre travail : on s’arrête dans 5 minutes.")
    if p.returncode != 0:
        raise Failed(p.stdout + p.stderr)
    poll("message window", lambda: gssh("pgrep -u vigie -f 'vigie-ui message'").returncode == 0, 30)
    poll("message drawn", lambda: shot("message.png", MESSAGE_BAND)[4] > 0.005, 10, 0.5)  # its title band on screen
    return os.path.join(SHOTS, "message.png")


def screenshot_through_vigie():
    """A teacher's screenshot through the real LightDM-granted X access: a PNG of
    the seat's size on the host, and the pupil told (the indicator's band on screen)."""
    out = os.path.join(RUN, "screenshots")
    os.makedirs(out, exist_ok=True)
    p = vigie("screenshot", "--seat", SEAT, "--out", out, "--json")
    try:
        answer = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failed(f"no answer: {p.stdout}{p.stderr}")
    path = answer.get("params", {}).get("file", "")
    if p.returncode != 0 or answer.get("code") != "screenshot.saved" or not os.path.exists(path):
        raise Failed(f"screenshot not saved: {p.stdout.strip()} {p.stderr.strip()}")
    with open(path, "rb") as f:
        head = f.read(24)
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    told = notice_shown("screenshot-indicator.png", INDICATOR_BAND, 10)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or (width, height) != (told[0], told[1]):
        raise Failed(f"{path}: not a {told[0]}x{told[1]} PNG ({width}x{height})")
    return f"{os.path.basename(path)} {width}x{height}, {os.path.getsize(path)} bytes; the indicator covers {100 * told[4]:.1f} % of the screen"


@contextlib.contextmanager
def remote_endpoint(mode):
    """`vigie view|control --seat SEAT --no-viewer --json` from the host: yields
    (vncdo, the seat's answer, the local port, the process); the process is
    stopped at the end if it is still running."""
    vncdo = os.path.join(REPO, ".build-venv", "bin", "vncdo")
    if not os.access(vncdo, os.X_OK):
        raise Failed(f"{vncdo} is missing (make deps)")
    proc = subprocess.Popen([LAB, "vigie", mode, "--seat", SEAT, "--no-viewer", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        try:
            opened = json.loads(line)
        except ValueError:
            raise Failed(f"no answer: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}")
        if opened.get("status") != "ok" or "address" not in opened:
            raise Failed(f"not opened: {opened}")
        yield vncdo, opened, opened["address"].rsplit(":", 1)[1], proc
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Failed(f"vigie {mode} did not end when its viewer left")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def notice_shown(name, band, timeout=15):
    """Polls for the seat's notice in colour `band`; the screendump's figures once it is there."""
    return poll(f"the notice on the seat ({name})",
                lambda: (lambda s: s if s[4] > 0.001 else None)(shot(name, band)), timeout, 0.5)


def remote_view_in_a_vnc_client():
    """`vigie view` from the host: the console's local VNC endpoint, the agent (as
    `vigie`) starting vigie-vnc on the real Xorg, a real VNC client (vncdotool)
    capturing the seat's screen at its size, and the pupil told while it lasts."""
    with remote_endpoint("view") as (vncdo, opened, port, _):
        told = notice_shown("view-indicator.png", INDICATOR_BAND)
        out = os.path.join(RUN, "view.png")
        t0 = time.monotonic()
        p = run([vncdo, "-s", "127.0.0.1::" + port, "-p", opened["password"], "capture", out], timeout=60)
        figures["view_capture_s"] = round(time.monotonic() - t0, 2)
        if p.returncode != 0 or not os.path.exists(out):
            raise Failed(f"vncdo capture failed: {p.stdout[-300:]} {p.stderr[-300:]}")
        with open(out, "rb") as f:
            head = f.read(24)
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if (width, height) != (told[0], told[1]):
            raise Failed(f"the VNC picture is {width}x{height}, the screen {told[0]}x{told[1]}")
    return f"{width}x{height} through vigie-vnc in {figures['view_capture_s']} s; the notice covers {100 * told[4]:.1f} % of the screen"


def remote_control_types_on_the_seat():
    """`vigie control` from the host: a real VNC client (vncdotool) types through
    the agent (as `vigie`) and vigie-vnc's XTEST on the real Xorg, and the keys
    reach the pupil's xterm; the seat's notice is the control one (red) while
    it lasts."""
    # A locked seat is never controlled: free it first.
    vigie("unlock", "--seat", SEAT)
    poll("free keyboard", lambda: grab_state() == "free", 30)
    with remote_endpoint("control") as (vncdo, opened, port, _):
        told = notice_shown("control-indicator.png", CONTROL_BAND)
        before = typed_size()
        t0 = time.monotonic()
        # The pointer stays where it is (over the pupil's xterm, which has the focus).
        p = run([vncdo, "-s", "127.0.0.1::" + port, "-p", opened["password"], "type", "ctl", "pause", "0.5"], timeout=60)
        if p.returncode != 0:
            raise Failed(f"vncdo type failed: {p.stdout[-300:]} {p.stderr[-300:]}")
        poll("3 keys typed through vigie control in /tmp/typed", lambda: typed_size() - before >= 3, 30)
        figures["control_keys_s"] = round(time.monotonic() - t0, 2)
        tail = gssh("tail -c 3 /tmp/typed", check=True).stdout
        if tail != "ctl":
            raise Failed(f"the pupil's xterm got {tail!r}, not 'ctl'")
    return f"'ctl' typed through XTEST on Xorg in {figures['control_keys_s']} s; the red control notice covers {100 * told[4]:.1f} % of the screen"


def help_code_then_a_consented_assistance():
    """« Demander de l’aide » on the real seat: the desktop entry is installed; the
    pupil, in their session, gets a six-digit code from the agent (running as
    `vigie`, which checks the caller's uid through SO_PEERCRED); root, another uid,
    is refused. The technician gives the code from the host (`vigie assist --code
    … --seat`), the pupil accepts on the seat (Tab, Space), then ends it with the
    Pause key; the helper is told."""
    gssh("grep -q 'Exec=/usr/bin/vigie-ui help' /usr/share/applications/vigie-help.desktop", check=True)
    ensure_pupil_session()
    asked = pupil("vigie-ui help --text 'imprimante absente' --timeout 2", timeout=60)
    lines = asked.stdout.splitlines()
    m = re.search(r"(\d{3}) (\d{3})", asked.stdout)
    if not lines or lines[0] != "ok" or not m:
        raise Failed(f"the pupil got no code: {asked.stdout[-300:]} {asked.stderr[-300:]}")
    code = m.group(1) + m.group(2)
    other = gssh("vigie-ui help --text 'essai' --timeout 1", timeout=60)
    if not other.stdout.startswith("refused") or "Seule la personne connectée" not in other.stdout:
        raise Failed(f"root (not the session user) was not refused: {other.stdout[-300:]}")
    env = dict(os.environ, SEATLAB_AS="technician")
    proc = subprocess.Popen([LAB, "vigie", "assist", "--code", code, "--seat", SEAT, "--no-viewer", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        t0 = time.monotonic()
        found = pupil("xdotool search --sync --classname vigie-consent | head -1", timeout=60).stdout.strip()
        if not found:
            raise Failed("no consent window on the seat")
        figures["assist_consent_shown_s"] = round(time.monotonic() - t0, 2)
        pupil(f"xdotool mousemove --window {found} 20 20 key Tab space", check=True)
        opened = json.loads(proc.stdout.readline() or "{}")
        if opened.get("code") != "assist.started" or "intervention" not in opened.get("params", {}):
            raise Failed(f"not opened: {opened} {proc.stderr.read() if proc.poll() is not None else ''}")
        pupil("xdotool search --sync --classname vigie-assist >/dev/null && xdotool key Pause", timeout=60, check=True)
        ended = json.loads(proc.stdout.readline() or "{}")
        if ended.get("code") != "assist.ended-by-person":
            raise Failed(f"the Pause key did not end it: {ended}")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    return f"code {code[:2]}…; consent window in {figures['assist_consent_shown_s']} s; intervention {opened['params']['intervention']}; ended by Pause"


def logoff_ends_the_session():
    vigie("unlock", "--seat", SEAT)
    poll("free keyboard", lambda: grab_state() == "free", 30)
    sessions = pupil_sessions()
    if not sessions:
        raise Failed("no session of the pupil to log off")
    p = vigie("logoff", "--seat", SEAT, "--now", "--json")
    if p.returncode != 0:
        raise Failed(p.stdout + p.stderr)
    poll("the pupil's session ended", lambda: not set(sessions) & set(pupil_sessions()), 60)
    log = gssh("journalctl -u systemd-logind -b --no-pager -o cat | grep -i 'removed session' | tail -3").stdout.strip()
    how = ensure_pupil_session()
    return f"{how}; session {' '.join(sessions)} ended through logind ({log.splitlines()[-1] if log else 'no logind line'})"


def login_notice_is_shown():
    """The new session (after the logoff) gets the login notice, drawn by vigie-ui as vigie."""
    poll("the login notice", lambda: gssh("pgrep -u vigie -f 'vigie-ui notice'").returncode == 0, 30)
    # Its title band on screen, above the session's windows (the xterm maps after it).
    drawn = poll("the notice drawn", lambda: (lambda s: s if s[4] > 0.005 else None)(shot("notice.png", NOTICE_BAND)), 15, 0.5)
    return f"notice on screen ({drawn[0]}x{drawn[1]}, its band {100 * drawn[4]:.1f} % of the screen)"


def ensure_pupil_session():
    """LightDM logs the pupil in again (autologin) when the session ends; if it
    shows its greeter instead, the display manager is restarted as an admin would."""
    try:
        poll("a new session of the pupil", pupil_session_up, 20)
        return "LightDM logged the pupil in again"
    except Failed:
        gssh("systemctl restart lightdm", check=True)
        poll("a new session of the pupil", pupil_session_up, 120)
        return "LightDM showed its greeter; the display manager was restarted (autologin)"


def logout_and_login_brings_the_lock_back():
    vigie("lock", "--seat", SEAT)
    poll("keyboard held", lambda: grab_state() == "held", 30)
    sessions = pupil_sessions()
    # The pupil logs out: their session ends with its xterm.
    pupil("pkill -u pupil -x xterm; true")
    poll("the pupil's session ended", lambda: not set(sessions) & set(pupil_sessions()), 60)
    # Logged in again (autologin, or the display manager restarted): the lock is back on the new session.
    how = ensure_pupil_session()
    poll("keyboard held in the new session", lambda: grab_state() == "held", 60)
    new = pupil_sessions()
    before = typed_size()
    type_keys(20, 0.05)
    settle_quiet()
    leaked = typed_size() - before
    st = status_line()
    shot("relogin-locked.png")
    if leaked or '"status.locked"' not in st:
        raise Failed(f"new session {new}: {leaked}/20 keystrokes arrived; status {st}")
    return f"{how}; new session {' '.join(new)} locked at once; 0/20 keystrokes; status {st}"


def reboot_goes_through_polkit_and_the_lock_is_remembered():
    poll("keyboard held", lambda: grab_state() == "held", 30)
    t0 = time.monotonic()
    boot0 = gssh("cat /proc/sys/kernel/random/boot_id", check=True).stdout.strip()
    p = vigie("power", "reboot", "--seat", SEAT, "--now", "--json")
    if p.returncode != 0:
        raise Failed(p.stdout + p.stderr)

    def rebooted():
        r = gssh("cat /proc/sys/kernel/random/boot_id", timeout=20)
        return r.returncode == 0 and r.stdout.strip() not in ("", boot0)
    poll("the guest back after the reboot", rebooted, 600, 2)
    poll("the pupil's session after the reboot", pupil_session_up, 300, 1)
    poll("the agent answering after the reboot", lambda: '"ok"' in status_line(), 120, 1)
    poll("keyboard held after the reboot", lambda: grab_state() == "held", 60)
    figures["reboot_to_locked_s"] = round(time.monotonic() - t0, 1)
    st = status_line()
    if '"status.locked"' not in st:
        raise Failed(f"after the reboot: status {st}")
    return f"rebooted and locked again {figures['reboot_to_locked_s']} s after the command; status {st}"


def purge_leaves_nothing():
    vigie("lock", "--seat", SEAT)
    poll("keyboard held", lambda: grab_state() == "held", 30)
    p = gssh("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q vigie-agent", timeout=300)
    if p.returncode != 0:
        raise Failed(p.stdout[-500:] + p.stderr[-500:])
    left = gssh("pgrep -a -u vigie; pgrep -a -x vigie-agent; pgrep -a -x vigie-ui; pgrep -a -x vigie-input-hold; "
                "getent passwd vigie; getent group vigie; "
                "ls -d /var/lib/vigie /usr/bin/vigie* /lib/systemd/system/vigie* /etc/vigie "
                "/etc/systemd/system/*/vigie-agent.service 2>/dev/null; true").stdout.strip()
    free = grab_state()
    figures["after_purge"] = {"left": left.splitlines(), "keyboard": free}
    if left or free != "free":
        raise Failed(f"keyboard {free}; left behind: {left.splitlines()}")
    return "no process, user, group or file left; keyboard free"


CHECKS = [agent_runs_as_vigie_under_systemd, agent_follows_the_autologin_session,
          lock_from_the_host_holds_input, screenshot_shows_the_lock, keys_typed_while_locked_are_held,
          unlock_frees_the_seat, vt_switch_and_zap_are_disabled, lock_survives_agent_restart, lock_survives_kill_9, stop_exits_cleanly,
          attack_xkill_loop, attack_xkill_on_creation, attack_kill_once_and_hold_grabs, attack_revoke_vigies_x_access,
          hot_plugged_keyboard_is_held, message_is_shown, screenshot_through_vigie, remote_view_in_a_vnc_client, remote_control_types_on_the_seat,
          help_code_then_a_consented_assistance,
          logoff_ends_the_session, login_notice_is_shown,
          logout_and_login_brings_the_lock_back, reboot_goes_through_polkit_and_the_lock_is_remembered,
          purge_leaves_nothing]


def main():
    keep = "--keep" in sys.argv
    reuse = "--reuse" in sys.argv  # a lab already up (lab.sh up): for working on the checks
    try:
        if not reuse:
            t0 = time.monotonic()
            up = subprocess.run([LAB, "up"], text=True)
            if up.returncode != 0:
                print("FAIL  seat lab up (see above)")
                print("0 passed, 1 failed")
                return 1
            figures["up_total_s"] = round(time.monotonic() - t0, 1)
        os.makedirs(SHOTS, exist_ok=True)
        for name in ("ready-seconds", "session-seconds"):
            try:
                figures[name.replace("-", "_")] = float(open(os.path.join(RUN, name)).read())
            except OSError:
                pass
        push_tools()
        only = [a for a in sys.argv[1:] if not a.startswith("--")]
        for c in CHECKS:
            if not only or c.__name__ in only:
                check(c)
    finally:
        with open(os.path.join(RUN, "figures.json"), "w") as f:
            json.dump(figures, f, indent=1)
        if not keep and not reuse:
            subprocess.run([LAB, "down"])
    passed = sum(1 for _, ok in results if ok)
    print(f"figures: {os.path.join(RUN, 'figures.json')}")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
