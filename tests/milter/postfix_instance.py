"""A private Postfix instance in a temporary directory, for the end-to-end
milter test and the milter benchmark (bench/milter): its own
config_directory, queue_directory and data_directory, smtpd on
127.0.0.1:PORT with bulwark-milter as smtpd_milters, and every accepted
message delivered by the virtual agent into one Maildir under the
directory. Needs root (Postfix's master runs as root, as in production) and
the Debian postfix package; nothing under /etc/postfix is changed."""
import email
import email.policy
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import time

# One line per service; chroot off everywhere ("n" in the fifth column),
# since the queue directory holds none of the files a chroot would need.
MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
smtp      unix  - - n - - smtp
virtual   unix  - n n - - virtual
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_run():
    """Why this machine cannot run a private Postfix, or None."""
    if os.geteuid() != 0:
        return "needs root (Postfix's master runs as root)"
    for tool in ("postfix", "postconf", "postqueue", "swaks"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user"
    return None


class PrivatePostfix:
    def __init__(self, root, milter_spec, milter_default_action="tempfail", extra=None):
        self.root = root
        self.conf = os.path.join(root, "etc")
        self.queue = os.path.join(root, "queue")
        self.maildir = os.path.join(root, "mail", "maildir")
        self.log = os.path.join(root, "postfix.log")
        self.port = free_port()
        os.makedirs(self.conf)
        os.makedirs(self.queue)
        os.makedirs(os.path.join(root, "data"))
        os.makedirs(os.path.dirname(self.maildir))
        # the postfix user walks to the queue, data and mail directories
        os.chmod(root, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(os.path.join(root, "data"), pw.pw_uid, pw.pw_gid)
        os.chown(os.path.dirname(self.maildir), pw.pw_uid, pw.pw_gid)
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": os.path.join(root, "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "mx.test.example",
            "mydomain": "test.example",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "relay_domains": "",
            "virtual_mailbox_domains": "parliament.example",
            "virtual_mailbox_base": os.path.dirname(self.maildir),
            # every recipient into one Maildir (trailing slash: Maildir)
            "virtual_mailbox_maps": "static:maildir/",
            "virtual_uid_maps": f"static:{pw.pw_uid}",
            "virtual_gid_maps": f"static:{pw.pw_gid}",
            "virtual_mailbox_limit": "0",
            "message_size_limit": "52428800",
            "smtpd_milters": milter_spec,
            "non_smtpd_milters": milter_spec,
            "milter_default_action": milter_default_action,
            "milter_protocol": "6",
            "milter_connect_timeout": "10s",
            "milter_content_timeout": "60s",
            "maillog_file": self.log,
            "maillog_file_prefixes": root,
            "smtpd_banner": "$myhostname ESMTP",
            # the benchmark sends as fast as it can from one address
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "default_process_limit": "100",
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
        }
        settings.update(extra or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))

    def postfix(self, *args, check=True, cpus=None):
        pin = ["taskset", "-c", cpus] if cpus else []
        return subprocess.run(pin + ["postfix", "-c", self.conf, *args], capture_output=True, text=True,
                              check=check)

    def start(self, cpus=None):
        """cpus: a taskset CPU list for Postfix's processes."""
        r = self.postfix("start", check=False, cpus=cpus)
        if r.returncode != 0:
            raise RuntimeError(f"postfix start failed: {r.stdout}{r.stderr}{self.log_text()}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("postfix smtpd did not start listening\n" + self.log_text())

    def stop(self):
        self.postfix("stop", check=False)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def flush(self):
        subprocess.run(["postqueue", "-c", self.conf, "-f"], capture_output=True)

    def queue_entries(self):
        """The queue as postqueue -j shows it: dicts with queue_name
        (active, deferred, hold, incoming), queue_id and recipients."""
        r = subprocess.run(["postqueue", "-c", self.conf, "-j"], capture_output=True, text=True)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def delivered(self):
        """Every delivered message: list of (path, bytes)."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.maildir, "new", "*")) +
                           glob.glob(os.path.join(self.maildir, "cur", "*"))):
            with open(path, "rb") as f:
                out.append((path, f.read()))
        return out

    def find_delivered(self, header, value):
        for path, data in self.delivered():
            msg = email.message_from_bytes(data, policy=email.policy.compat32)
            if (msg.get(header) or "").strip() == value:
                return data
        return None


def swaks(port, path, rcpt, test_id, timeout=60):
    """Sends the message file through SMTP; returns (exit status, transcript)."""
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                        "--from", "sender@example.org", "--to", rcpt, "--helo", "client.example",
                        "--data", "@" + path, "--add-header", f"X-Test-Id: {test_id}",
                        "--timeout", str(timeout), "--hide-informational"],
                       capture_output=True, text=True, timeout=timeout + 30)
    return r.returncode, r.stdout + r.stderr
