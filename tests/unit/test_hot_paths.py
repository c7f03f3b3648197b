"""The entry points the shell calls often stay light: no heavy library is imported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["llama_cpp", "onnxruntime", "numpy", "prompt_toolkit", "loguru", "tree_sitter", "mlx"]


def modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_cmdai_is_light():
    loaded = modules_after("import cmdai, cmdai.cli, cmdai.config, cmdai.paths")
    assert not [m for m in HEAVY + ["click", "apsw"] if m in loaded]


def test_history_list_and_search_stay_light(cmdai_home):
    for argv in (["history", "list"], ["search", "git"], ["init", "bash"]):
        loaded = modules_after(
            "import sys\nfrom cmdai.cli import main\n"
            f"sys.argv = ['cmdai', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
        )
        heavy = [m for m in HEAVY if m in loaded]
        assert heavy == [], (argv, heavy)
