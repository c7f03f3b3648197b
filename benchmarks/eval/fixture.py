"""The fixture tree every task runs in: deterministic content, sizes, modes and mtimes.

`build(root)` creates it; a task then runs in a fresh copy (`shutil.copytree` keeps mtimes).
Times are relative to "now" so `-mtime` questions keep their meaning.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DAY = 86400

FILES: dict[str, str] = {
    "README.md": "# Demo project\n\nTODO: write the install section\nRun `make` to build.\n"
                 "See docs/guide.md for details.\n",
    "Makefile": "build:\n\tpython3 src/main.py\n\ntest:\n\tpython3 -m pytest tests\n",
    "src/main.py": "import sys\nfrom util import helper\n\n\ndef main():\n    # TODO: parse args\n"
                   "    print(helper(sys.argv))\n\n\nif __name__ == '__main__':\n    main()\n",
    "src/util.py": "def helper(args):\n    return len(args)\n\n\ndef unused():\n"
                   "    # FIXME: remove\n    return None\n",
    "src/lib/helpers.py": "VALUE = 42\n\n\ndef twice(x):\n    return 2 * x\n",
    "src/app.js": "// TODO: port to python\nconsole.log('hello');\nconsole.log('world');\n",
    "src/style.css": "body { color: black; }\n",
    "tests/test_main.py": "def test_ok():\n    assert True\n",
    "tests/test_util.py": "from util import helper\n\n\ndef test_helper():\n"
                          "    assert helper([1, 2]) == 2\n",
    "data/users.csv": "name,age,city\nalice,34,paris\nbob,27,berlin\ncarol,45,paris\n"
                      "dave,19,rome\nerin,27,berlin\n",
    "data/config.json": '{"name": "demo", "version": "1.2.3", "debug": false, '
                        '"ports": [8080, 8081]}\n',
    "data/numbers.txt": "5\n3\n10\n3\n8\n1\n",
    "data/words.txt": "apple\nbanana\napple\ncherry\nbanana\napple\n",
    "data/hosts.txt": "10.0.0.1 alpha\n10.0.0.2 beta\n192.168.1.5 gamma\n",
    "docs/guide.md": "# Guide\n\nInstall with make.\nThe config lives in data/config.json.\n",
    "docs/notes.txt": "first note\nsecond note\nthird note\n",
    "docs/CHANGELOG.txt": "v1.2.3 fixed bugs\nv1.2.2 added things\n",
    "tmp/cache.tmp": "cache\n",
    "tmp/a.bak": "backup a\n",
    "tmp/b.bak": "backup b\n",
    "scripts/deploy.sh": "#!/bin/sh\necho deploying\n",
    "scripts/run.sh": "#!/bin/sh\necho running\n",
    "images/photo1.jpeg": "JPEG1",
    "images/photo2.jpeg": "JPEG22",
    "images/icon.png": "PNG",
    "empty.txt": "",
    ".env": "DEBUG=1\n",
}
MODES = {"scripts/run.sh": 0o755, "scripts/deploy.sh": 0o644}
AGES_DAYS = {  # files older than the rest
    "logs/old.log": 30, "tmp/a.bak": 12, "tmp/b.bak": 3, "docs/CHANGELOG.txt": 60,
    "images/icon.png": 400,
}
HOURS_OLD = {"logs/app.log": 1}  # the newest file
EMPTY_DIRS = ["build", "archive"]


def _log(lines: int, seed: int) -> str:
    levels = ["INFO", "INFO", "WARN", "INFO", "ERROR"]
    return "".join(
        f"2026-01-{1 + (i * 7 + seed) % 28:02d} 12:{i % 60:02d}:00 {levels[(i + seed) % 5]} "
        f"request {i} took {(i * 37 + seed) % 500} ms\n" for i in range(lines))


def build(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = dict(FILES)
    files["logs/app.log"] = _log(200, 1)
    files["logs/old.log"] = _log(20, 2)
    files["logs/big.log"] = _log(30000, 3)  # ~1.5 MB
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel, mode in MODES.items():
        os.chmod(root / rel, mode)
    for d in EMPTY_DIRS:
        (root / d).mkdir(exist_ok=True)
    now = time.time()
    for p in root.rglob("*"):
        os.utime(p, (now - DAY // 2, now - DAY // 2))  # everything: half a day old
    for rel, days in AGES_DAYS.items():
        t = now - days * DAY
        os.utime(root / rel, (t, t))
    for rel, hours in HOURS_OLD.items():
        t = now - hours * 3600
        os.utime(root / rel, (t, t))
    return root
