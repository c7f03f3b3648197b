"""A seeded history for the ranking tests, and one real embedder for the whole session."""

from __future__ import annotations

import pytest

from cmdai.history.entry import Entry
from cmdai.history.store import Store

NS = 1_000_000_000
NOW = 1_760_000_000

# (command, seconds before NOW, cwd, session, exit)
SEED = [
    ("docker volume prune -f", 40 * 86400, "/home/u/src/api", "s1", 0),
    ("docker ps -a", 3 * 86400, "/home/u/src/api", "s1", 0),
    ("docker images", 5 * 86400, "/home/u", "s2", 0),
    ("free -h", 20 * 86400, "/home/u", "s2", 0),
    ("df -h", 9 * 86400, "/home/u", "s2", 0),
    ("du -sh * | sort -h", 12 * 86400, "/home/u/src", "s3", 0),
    ("git reset --soft HEAD~1", 15 * 86400, "/home/u/src/api", "s3", 0),
    ("git status", 3600, "/home/u/src/api", "s4", 0),
    ("git status", 7200, "/home/u/src/api", "s4", 0),
    ("git status", 2 * 86400, "/home/u/src/web", "s3", 0),
    ("git log --oneline --graph", 6 * 86400, "/home/u/src/api", "s3", 0),
    ("tar xzf release-2.3.tar.gz", 30 * 86400, "/home/u/Downloads", "s5", 0),
    ("kubectl get pods -n prod", 8 * 86400, "/home/u/src/infra", "s5", 0),
    ("sudo systemctl restart nginx", 25 * 86400, "/home/u", "s5", 0),
    ("find . -type f -size +100M", 50 * 86400, "/home/u", "s6", 0),
    ("ssh deploy@web1", 4 * 86400, "/home/u", "s6", 0),
    ("make test", 86400, "/home/u/src/api", "s7", 0),
    ("make test", 86400 + 60, "/home/u/src/web", "s7", 0),
    ("make build", 86400 + 120, "/home/u/src/web", "s7", 2),
    ("pytest -x -q", 2 * 86400, "/home/u/src/api", "s7", 1),
    ("ls -la", 600, "/home/u", "s8", 0),
    ("vim notes.txt", 900, "/home/u", "s8", 0),
]


def seed_entries() -> list[Entry]:
    return [Entry(command=c, timestamp=(NOW - ago) * NS, session=s, exit=x, cwd=cwd,
                  duration_ms=120, hostname="box", shell="zsh")
            for c, ago, cwd, s, x in SEED]


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "history.db")
    s.insert(seed_entries())
    yield s
    s.close()
