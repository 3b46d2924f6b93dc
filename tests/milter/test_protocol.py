#!/usr/bin/env python3
"""Protocol-level tests of bulwark-milter with miltertest (Lua scripts in
this directory): each case starts the milter with its own configuration,
runs one script against it, and checks that the milter then stops cleanly.

usage: test_protocol.py BULWARK_MILTER SAMPLES_DIR"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHSERV = "mx.test.example"

CASES = [
    # (script, configuration file text, extra env, -D vars). Every file also
    # gets the [milter] settings of milter_section(): the headers case has
    # nothing else, so its actions are the defaults.
    ("headers.lua", "", {}, {}),
    ("reject.lua", "[actions]\nmalicious = reject\nreject_text = Impersonation rejected by policy\n", {}, {}),
    ("quarantine.lua", "[actions]\nmalicious = quarantine, headers\n", {}, {}),
    ("replacebody.lua", "[group:protected]\nrecipients = jane.doe@parliament.example\nclean = headers, sanitize\n",
     {}, {}),
    ("failsafe.lua", "[milter]\ndefault_action = tempfail\n",
     {"BULWARK_TEST_CRASH_MARKER": "bulwark-test-crash-marker"}, {"FAILSAFE": "tempfail"}),
    ("failsafe.lua", "[milter]\ndefault_action = accept\n",
     {"BULWARK_TEST_CRASH_MARKER": "bulwark-test-crash-marker"}, {"FAILSAFE": "accept"}),
    # a worker that hangs past timeout_ms is killed: the fail-safe default
    ("failsafe.lua", "[milter]\ndefault_action = tempfail\ntimeout_ms = 300\n",
     {"BULWARK_TEST_HANG_MARKER": "bulwark-test-crash-marker"}, {"FAILSAFE": "tempfail", "CASE": "hang"}),
    ("oversize.lua", "[milter]\ndefault_action = accept\nmax_message_bytes = 1024\n", {}, {}),
    ("reload.lua", "[milter]\nworkers = 1\n", {}, {}),
    # miltertest cannot send one header this large (it crashes): Python does
    ("long_header", "", {}, {}),
]

# Lines the milter's log must contain, by CASE: quoted log values keep their
# spaces.
EXPECTED_LOG = {
    "hang": 'kind=scan action=tempfail why="worker timed out; killed"',
}


def milter_packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(sock):
    """(command, data) of the milter's next reply, or None when it closed."""
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    want = struct.unpack(">I", head)[0]
    data = b""
    while len(data) < want:
        chunk = sock.recv(want - len(data))
        if not chunk:
            return None
        data += chunk
    return data[:1], data[1:]


def long_header_case(port):
    """One header of 200 KiB in a single packet (above libmilter's default
    64 KiB limit, below the 1 MiB the milter sets): the milter answers and
    scans the message instead of dropping the connection."""
    problems = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        steps = [
            (b"O", struct.pack(">III", 6, 0x1FF, 0)),
            (b"C", b"client.example\0U"),
            (b"H", b"client.example\0"),
            (b"M", b"<sender@example.org>\0"),
            (b"R", b"<clerk@parliament.example>\0"),
            (b"L", b"From\0 <sender@example.org>\0"),
            (b"L", b"X-Long\0 " + b"x" * (200 * 1024) + b"\0"),
            (b"L", b"Subject\0 long header\0"),
            (b"N", b""),
            (b"B", b"hello\r\n"),
        ]
        for cmd, data in steps:
            sock.sendall(milter_packet(cmd, data))
            reply = read_packet(sock)
            if reply is None:
                return [f"milter closed the connection after {cmd.decode()} ({len(data)} bytes)"]
            if cmd != b"O" and reply[0] != b"c":
                problems.append(f"reply to {cmd.decode()}: {reply[0]!r}")
        sock.sendall(milter_packet(b"E"))
        added = []
        while True:
            reply = read_packet(sock)
            if reply is None:
                return problems + ["milter closed the connection at end of message"]
            if reply[0] == b"h":
                added.append(reply[1])
            elif reply[0] not in (b"m", b"i"):
                break
        if reply[0] != b"c":
            problems.append(f"end of message answered {reply[0]!r}")
        if not any(h.startswith(b"X-Bulwark-Verdict\0") and b"unscanned" not in h for h in added):
            problems.append(f"no X-Bulwark-Verdict from a scan: {added}")
        else:
            print("ok: a 200 KiB header was scanned")
        sock.sendall(milter_packet(b"Q"))
    return problems


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def milter_section(dns_port):
    """A fixed authserv-id, so that scripts can forge results in its name,
    and a resolver on 127.0.0.1 where nothing listens: live checks end at
    once in temperror, and no test depends on outside DNS."""
    return (f"[milter]\nauthserv_id = {AUTHSERV}\nresolver = 127.0.0.1:{dns_port}\n"
            "dns_timeout_ms = 200\n")


def run_case(milter, samples, script, config, env_extra, defines, tmp):
    port = free_port()
    spec = f"inet:{port}@127.0.0.1"
    args = [milter, "--foreground", "--socket", spec]
    config_path = os.path.join(tmp, f"{script}.conf")
    own = milter_section(free_port())
    with open(config_path, "w") as f:
        f.write(config.replace("[milter]\n", own) if "[milter]" in config else own + config)
    args += ["--config", config_path]
    # The build tree's binary is too deep to find data/news-outlets.conf itself.
    env = dict(os.environ, BULWARK_OUTLETS=os.path.join(os.path.dirname(samples), "data", "news-outlets.conf"),
               **env_extra)
    log_path = os.path.join(tmp, f"{script}.{len(os.listdir(tmp))}.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(args, env=env, stderr=log, stdout=log)
    problems = []
    try:
        if not wait_listening(port, proc):
            problems.append("milter did not start listening")
        elif script == "long_header":
            try:
                problems += long_header_case(port)
            except OSError as e:
                problems.append(f"connection dropped: {e}")
        else:
            cmd = ["miltertest", "-D", f"SOCKET={spec}", "-D", f"LIB={HERE}/lib.lua",
                   "-D", f"SAMPLES={samples}", "-D", f"AUTHSERV={AUTHSERV}", "-D", f"PID={proc.pid}",
                   "-D", f"CONFIG={config_path}"]
            for k, v in defines.items():
                cmd += ["-D", f"{k}={v}"]
            cmd += ["-s", os.path.join(HERE, script)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            sys.stdout.write(r.stdout)
            if r.returncode != 0 or "FAIL" in r.stdout:
                problems.append(f"miltertest exit {r.returncode}: {r.stderr.strip()}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                problems.append("milter did not stop on SIGTERM")
        log.close()
    if proc.returncode not in (0, None) and not problems:
        problems.append(f"milter exit status {proc.returncode}")
    with open(log_path) as f:
        text = f.read()
    if "ERROR: AddressSanitizer" in text or "runtime error:" in text:
        problems.append("sanitizer report")
    expected = EXPECTED_LOG.get(defines.get("CASE"))
    if expected and expected not in text:
        problems.append(f"log lacks {expected}")
    if problems:
        sys.stdout.write(f"--- milter log ({log_path}):\n{text}")
    return problems


def main():
    milter, samples = sys.argv[1], os.path.abspath(sys.argv[2])
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bw-miltertest-") as tmp:
        for script, config, env_extra, defines in CASES:
            label = " ".join(defines[k] for k in ("CASE", "FAILSAFE") if k in defines)
            name = script + (f" ({label})" if label else "")
            problems = run_case(milter, samples, script, config, env_extra, defines, tmp)
            print(f"{'FAIL' if problems else 'PASS'} {name}" + (": " + "; ".join(problems) if problems else ""))
            failed += bool(problems)
    print(f"{len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
