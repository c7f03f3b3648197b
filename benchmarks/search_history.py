"""A realistic generated shell history for the search benchmark (deterministic per seed).

The labelled targets (benchmarks/data/search_queries.tsv) each appear a few times; around them,
thousands of everyday commands, many of them near-misses of the targets (same tool, other
subcommand or flags), spread over several projects, sessions and months.
"""

from __future__ import annotations

import random
from pathlib import Path

from cmdai.history.entry import Entry

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "data" / "search_queries.tsv"
HOME = "/home/dev"
PROJECTS = [f"{HOME}/src/{p}" for p in ("shop", "api", "infra", "dotfiles", "ml", "blog")]

WORDS = ("fix typo add tests refactor parser bump version update docs remove dead code handle "
         "timeout retry logic login page cache layer metrics endpoint migration schema cleanup "
         "search ranking config loader ci pipeline release notes").split()
FILES = ["src/app.py", "src/db.py", "README.md", "Makefile", "setup.cfg", "main.go", "index.ts",
         "Dockerfile", "docker-compose.yml", "k8s/deploy.yaml", "tests/test_api.py", "notes.txt",
         "config.toml", "lib/util.rs", ".github/workflows/ci.yml"]
BRANCHES = ["main", "develop", "feature/search", "fix/login", "feature/payments", "chore/deps"]
HOSTS = ["web1", "web2", "db1", "bastion", "build"]
NAMESPACES = ["prod", "staging", "dev", "monitoring"]


def _filler(r: random.Random) -> str:
    f = r.choice(FILES)
    b = r.choice(BRANCHES)
    ns = r.choice(NAMESPACES)
    msg = " ".join(r.sample(WORDS, r.randint(2, 5)))
    n = r.randint(1, 999)
    choices = [
        lambda: "ls", lambda: "ls -la", lambda: "ll", lambda: "cd ..", lambda: f"cd {r.choice(PROJECTS)}",
        lambda: "cd -", lambda: "clear", lambda: "git status", lambda: "git status -s",
        lambda: f"git add {f}", lambda: "git add -A", lambda: f'git commit -m "{msg}"',
        lambda: f"git checkout {b}", lambda: f"git switch {b}", lambda: f"git push origin {b}",
        lambda: "git pull", lambda: "git fetch --all", lambda: f"git diff {f}",
        lambda: "git log -p -3", lambda: f"git merge {b}", lambda: "git stash list",
        lambda: "git branch -a", lambda: f"git show HEAD~{n % 9}", lambda: "git reset --hard HEAD",
        lambda: f"vim {f}", lambda: f"code {f}", lambda: f"cat {f}", lambda: f"less {f}",
        lambda: f"rm {f}.bak", lambda: f"cp {f} {f}.bak", lambda: f"mv {f}.bak /tmp/",
        lambda: "make", lambda: "make test", lambda: "make clean", lambda: "pytest",
        lambda: f"pytest {f} -k test_{r.choice(WORDS)}", lambda: "python3 manage.py runserver",
        lambda: "python3 -m http.server 8000", lambda: "npm test", lambda: "npm run build",
        lambda: "cargo test", lambda: "go build ./...", lambda: "docker ps -a",
        lambda: "docker images", lambda: "docker volume ls", lambda: f"docker logs api-{n}",
        lambda: f"docker run --rm -it python:3.{n % 4 + 9} bash", lambda: "docker compose ps",
        lambda: "docker compose logs -f", lambda: f"kubectl get pods -n {ns}",
        lambda: f"kubectl get svc -n {ns}", lambda: f"kubectl get deploy -n {ns}",
        lambda: f"kubectl logs api-{n} -n {ns}", lambda: f"kubectl describe svc web -n {ns}",
        lambda: "kubectl config use-context prod", lambda: "kubectl get nodes",
        lambda: f"ssh {r.choice(HOSTS)}", lambda: f"ping {r.choice(HOSTS)}",
        lambda: f"curl -I https://{r.choice(HOSTS)}.example.com", lambda: "df -i",
        lambda: "du -sh .", lambda: "top", lambda: "free", lambda: f"kill {n * 7}",
        lambda: "ps aux", lambda: f"grep -rn {r.choice(WORDS)} src/", lambda: f"rg {r.choice(WORDS)}",
        lambda: f"find . -name '*.{r.choice(['py', 'go', 'ts', 'md'])}'", lambda: "history | tail",
        lambda: f"echo ${r.choice(['PATH', 'HOME', 'SHELL', 'EDITOR'])}", lambda: "env | grep -i proxy",
        lambda: "sudo apt update", lambda: f"pip install {r.choice(['requests', 'numpy', 'rich', 'httpx'])}",
        lambda: "source .venv/bin/activate", lambda: "deactivate", lambda: "exit",
        lambda: "tail -n 100 /var/log/myapp/app.log", lambda: "date", lambda: "whoami",
        lambda: f"tmux new -s {r.choice(WORDS)}", lambda: "terraform fmt", lambda: "terraform apply",
        lambda: f"helm list -n {ns}", lambda: "aws sts get-caller-identity", lambda: "jq --version",
        lambda: f"chmod 644 {f}", lambda: f"wc -l {f}", lambda: f"head {f}",
        lambda: f"sed -n '1,20p' {f}", lambda: f"tar tzf release-{n % 5}.tar.gz",
    ]
    return r.choice(choices)()


def load_queries() -> list[tuple[str, str]]:
    pairs = []
    for line in QUERIES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, expected = line.split("\t")
            pairs.append((query, expected))
    return pairs


def generate(n: int, seed: int = 7, now_s: int = 1_760_000_000) -> list[Entry]:
    """``n`` entries over ~180 days, newest last; every labelled target appears 1-4 times."""
    r = random.Random(seed)
    targets = sorted({expected for _, expected in load_queries()})
    commands: list[str] = []
    for t in targets:
        commands += [t] * r.randint(1, 4)
    while len(commands) < n:
        commands.append(_filler(r))
    r.shuffle(commands)
    commands = commands[:n]
    entries = []
    t = now_s - 180 * 86400
    step = 180 * 86400 / max(1, n)
    session = "s0"
    cwd = HOME
    for i, command in enumerate(commands):
        t += r.expovariate(1 / step)
        if i % 60 == 0:
            session = f"s{i // 60}"
            cwd = r.choice(PROJECTS + [HOME])
        if command.startswith("cd /"):
            cwd = command[3:]
        exit_ = 0 if r.random() > 0.08 else r.choice([1, 2, 127, 130])
        entries.append(Entry(command=command, timestamp=int(t * 1e9) + i, session=session,
                             exit=exit_, duration_ms=r.randint(1, 3000), cwd=cwd,
                             hostname="laptop", shell="zsh", source="bench"))
    return entries
