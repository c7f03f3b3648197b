"""The Ctrl-G client: what the shell widgets run, as ``python -I -S client.py``.

It imports only the standard library (no site-packages, no cmdai), talks to the daemon over its
unix socket, and prints for the widget, on stdout:

    line 1: insert | explain | keep | cancel | error
    line 2: a one-line status message for the user
    rest:   the command to put in the buffer (insert), or the explanation (explain)

With ``--op pick`` it asks the daemon to draw the history picker on this terminal (the tty is
passed over SCM_RIGHTS) and prints ``insert|run|edit`` and the chosen command; it exits 130 when
the user cancels and 3 when no daemon runs (the widget then starts the picker as a process).

While it waits it reads the terminal itself with signals off, so Ctrl-C or Esc cancels the
request cleanly (the daemon stops generating) and the shell never sees an interrupt that would
throw away the user's text. When no daemon runs it starts one (``cmdai daemon start --auto``);
when that fails it runs the request in-process (``cmdai assist --stream``), slower, and says
so once per shell session.
"""

# The import list is the client's whole cost: `json` pulls in `re` (~6 ms), `socket` and
# `signal` pull in `enum` (~4 ms), `subprocess` and `argparse` ~4 ms more. So the client uses the
# C modules underneath them, and imports subprocess only to start the daemon.
import _json
import _signal
import _socket
import os
import select
import sys
import time

VERSION = 1  # the daemon protocol version (cmdai/daemon/protocol.py)
CANCEL_KEYS = (b"\x03", b"\x1b")  # Ctrl-C, Esc
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _JsonContext:
    """What _json.make_scanner needs: json.JSONDecoder's attributes, without importing it."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity
    memo = {}


_scan = _json.make_scanner(_JsonContext())


def loads(text):
    value, end = _scan(text, 0)
    return value


def dumps(message):
    """A JSON object of strings and ints (all a request holds)."""
    parts = []
    for key, value in message.items():
        enc = str(value) if isinstance(value, int) else _json.encode_basestring_ascii(value)
        parts.append("%s:%s" % (_json.encode_basestring_ascii(key), enc))
    return "{" + ",".join(parts) + "}"


def runtime_dir():
    """Where the daemon's socket lives: the same rule as cmdai.paths.runtime_dir()."""
    home = os.environ.get("CMDAI_HOME")
    if home:
        return os.path.join(os.path.abspath(os.path.expanduser(home)), "run")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "cmdai")
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), "cmdai-%d" % os.getuid())


class Tty:
    """The controlling terminal with signals and echo off, restored on exit."""

    def __init__(self, progress):
        self.fd = None
        self.saved = None
        self.progress = progress
        try:
            self.fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return
        try:
            import termios

            self.saved = termios.tcgetattr(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
            mode[6][termios.VMIN] = 0
            mode[6][termios.VTIME] = 0
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        except (ImportError, OSError):
            self.saved = None

    def cancelled(self):
        if self.fd is None:
            return False
        try:
            data = os.read(self.fd, 64)
        except OSError:
            return False
        return any(k in data for k in CANCEL_KEYS)

    def show(self, text, end=False):
        if self.progress and self.fd is not None:
            try:
                os.write(self.fd, ("\r\x1b[K" + text + ("\r\n" if end else "")).encode())
            except OSError:
                pass

    def close(self):
        if self.fd is None:
            return
        if self.saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
            except OSError:
                pass
        os.close(self.fd)
        self.fd = None


class Connection:
    """Reply lines from the daemon's socket, or from an in-process `cmdai assist --stream`."""

    def __init__(self, sock=None, proc=None):
        self.sock, self.proc = sock, proc
        self.buffer = b""
        self.fileno = sock.fileno() if sock else proc.stdout.fileno()

    def read_lines(self):
        try:
            chunk = self.sock.recv(65536) if self.sock else os.read(self.fileno, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [loads(line.decode()) for line in lines if line.strip()]

    def close(self):
        if self.sock:
            self.sock.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def connect(path, timeout=2.0):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return None
    s.settimeout(None)
    return s


def notice_once(run_dir, session, text):
    """True the first time ``text`` should be shown in this shell session."""
    marker = os.path.join(run_dir, "notice-%s" % (session or os.getppid()))
    if os.path.exists(marker):
        return False
    try:
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        with open(marker, "w") as fh:
            fh.write(text + "\n")
    except OSError:
        pass
    return True


class Args:
    shell = "bash"
    cwd = None
    session = os.environ.get("CMDAI_SESSION", "")
    op = "assist"
    progress = False
    python = sys.executable


def parse_args(argv):
    """--shell S --cwd DIR --session ID --op OP --progress --python PATH [--] TEXT...
    (argparse alone would add ~2 ms to every Ctrl-G)."""
    args, text = Args(), []
    it = iter(argv)
    for arg in it:
        if arg == "--":
            text.extend(it)
        elif arg == "--progress":
            args.progress = True
        elif arg in ("--shell", "--cwd", "--session", "--op", "--python"):
            setattr(args, arg[2:], next(it, ""))
        elif arg.startswith("--"):
            sys.stderr.write("cmdai-client: unknown option %s\n" % arg)
            raise SystemExit(2)
        else:
            text.append(arg)
    if args.op not in ("assist", "generate", "explain", "ping", "pick"):
        sys.stderr.write("cmdai-client: unknown op %s\n" % args.op)
        raise SystemExit(2)
    args.text = text
    return args


def main(argv):
    args = parse_args(argv)
    text = " ".join(args.text)
    run_dir = runtime_dir()
    sock_path = os.path.join(run_dir, "daemon.sock")
    request = {"v": VERSION, "op": args.op, "text": text, "cwd": args.cwd or os.getcwd(),
               "shell": args.shell, "session": args.session}

    def out(action, message, command=""):
        sys.stdout.write("%s\n%s\n%s" % (action, message, command))
        sys.stdout.flush()

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # Ctrl-C is read as a key (pitfall 6)
    if args.op == "pick":
        return pick(run_dir, request)
    tty = Tty(args.progress)
    note = ""
    conn = None
    try:
        tty.show("cmdai: connecting…")
        sock = connect(sock_path)
        if sock is None:
            tty.show("cmdai: starting the daemon…")
            import subprocess

            started = subprocess.run(
                [args.python, "-m", "cmdai", "daemon", "start", "--auto"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            sock = connect(sock_path) if started.returncode == 0 else None
        if sock is not None:
            sock.sendall((dumps(request) + "\n").encode())
            conn = Connection(sock=sock)
        else:
            if args.op == "ping":
                out("error", "cmdai: the daemon is not running")
                return 1
            import subprocess

            if notice_once(run_dir, args.session, "fallback"):
                note = " (no daemon: answered in-process, slower; see `cmdai daemon status`)"
            proc = subprocess.Popen(
                [args.python, "-m", "cmdai", "assist", "--stream", "--mode",
                 {"assist": "auto"}.get(args.op, args.op), "--shell", args.shell,
                 "--cwd", request["cwd"], "--session", args.session, "--", text],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
            conn = Connection(proc=proc)
        return converse(conn, tty, out, note)
    finally:
        if conn is not None:
            conn.close()
        tty.close()


def pick(run_dir, request):
    sock = connect(os.path.join(run_dir, "picker.sock"))
    if sock is None:
        return 3  # no daemon: the widget runs the picker itself
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        sock.close()
        return 3
    try:
        import array

        sock.sendmsg([(dumps(request) + "\n").encode()],
                      [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())])
    finally:
        os.close(fd)  # the daemon holds its own copy now
    conn = Connection(sock=sock)
    lines = []
    while True:
        got = conn.read_lines()
        if got is None:
            break
        lines.extend(got)
    conn.close()
    reply = lines[-1] if lines else {"type": "error", "message": "no answer"}
    if reply.get("type") == "picked":
        sys.stdout.write("%s\n%s" % (reply.get("action", "insert"), reply.get("command", "")))
        return 0
    if reply.get("type") == "cancelled":
        return 130
    sys.stderr.write("cmdai: %s\n" % reply.get("message", "picker failed"))
    return 3  # let the widget try the picker process, which reports its own errors


def converse(conn, tty, out, note):
    tokens = 0
    spin = 0
    started = time.monotonic()
    watch = [conn.fileno] + ([tty.fd] if tty.fd is not None else [])
    while True:
        ready, _, _ = select.select(watch, [], [], 0.1)
        if tty.fd is not None and tty.fd in ready and tty.cancelled():
            tty.show("cmdai: cancelled", end=True)
            out("cancel", "cmdai: cancelled")
            return 130
        if conn.fileno not in ready:
            spin += 1
            tty.show("cmdai: %s working… %.1f s" % (SPINNER[spin % len(SPINNER)],
                                                 time.monotonic() - started))
            continue
        lines = conn.read_lines()
        if lines is None:
            tty.show("cmdai: no answer", end=True)
            out("error", "cmdai: the daemon closed the connection without an answer"
                         " (see `cmdai daemon status`)")
            return 1
        for msg in lines:
            kind = msg.get("type")
            if kind == "pong":
                out("keep", "cmdai: daemon running (pid %s)" % msg.get("pid"))
                return 0
            if kind == "token":
                tokens += 1
                tty.show("cmdai: %s generating… %d tokens" % (SPINNER[tokens % len(SPINNER)],
                                                            tokens))
            elif kind == "progress" and msg.get("message"):
                tty.show("cmdai: " + msg["message"])
            elif kind == "error":
                hint = msg.get("hint")
                message = "cmdai: " + msg.get("message", "error") + (" (%s)" % hint if hint else "")
                tty.show(message, end=True)
                out("error", message)
                return int(msg.get("code") or 1)
            elif kind == "result":
                message = msg.get("message", "") + note
                if msg.get("kind") == "explanation":
                    explanation = msg.get("explanation", "")
                    tty.show(message + "\r\n" + explanation, end=True)
                    out("explain", message, explanation)
                    return 0
                tty.show(message, end=True)
                out(msg.get("action", "keep"), message, msg.get("command", ""))
                return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
