"""What bench/milter/run (through Postfix) and bench/milter/direct (the
milter protocol alone) share: the corpus, the milter process under
taskset, and its log."""
import os
import re
import signal
import socket
import subprocess
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def corpus_files(root):
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.join(d, n) for n in names if not n.startswith(".")]
    return sorted(files)


class Milter:
    """bulwark-milter under taskset; its CPU time comes from wait4."""

    def __init__(self, args, config, port, log_path):
        self.cmd = ["taskset", "-c", args.milter_cpu, args.milter, "--foreground", "--config", config,
                    "--socket", f"inet:{port}@127.0.0.1"]
        self.port, self.log_path = port, log_path
        self.env = dict(os.environ, BULWARK_OUTLETS=os.path.join(SRC, "data", "news-outlets.conf"))
        self.cpu = 0.0
        self.proc = None

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("bulwark-milter did not start")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        _, _, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = 0
        self.cpu += ru.ru_utime + ru.ru_stime


SCAN_LINE = re.compile(r'event=scan .*?rcpts="<m(\d+)@parliament\.example>" verdict=(\w+) .*? ms=([\d.]+)')


def read_milter_log(path):
    verdicts, ms = {}, []
    failsafe = 0
    with open(path, errors="replace") as f:
        for line in f:
            m = SCAN_LINE.search(line)
            if m:
                verdicts[int(m.group(1))] = m.group(2)  # a retried message: its last scan
                ms.append(float(m.group(3)))
            elif "event=failsafe" in line:
                failsafe += 1
    return verdicts, ms, failsafe


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
