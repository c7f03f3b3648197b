"""Parsing the model's answer, the shell parse check, prompt assembly and the secrets hook."""

from __future__ import annotations

import pytest

from cmdai import generate as g


@pytest.mark.parametrize("text, command, explanation", [
    ("ls -la\n# list all", "ls -la", "list all"),
    ("  find . -name '*.py'  \n#   python files  \n", "find . -name '*.py'", "python files"),
    ("```bash\ndu -sh .\n# size\n```", "du -sh .", "size"),
    ("Here you go:\n```sh\ngrep -rn TODO .\n```\nThis searches.", "grep -rn TODO .", ""),
    ("$ mkdir -p a/b\n# parents", "mkdir -p a/b", "parents"),
    ("`pwd`", "pwd", ""),
    ("# a comment first\nuname -a\n# kernel", "uname -a", "kernel"),
    ("ls\nrm -rf /\n# two commands", "ls", ""),  # only the first line is the answer
    ("", "", ""),
    ("`date +%F` # today's date", "date +%F", "today's date"),  # small models do this
    ("du -sh .   # the size of here\n", "du -sh .", "the size of here"),
    ("echo \"a # b\" | wc -c", "echo \"a # b\" | wc -c", ""),  # quoted: not a comment
    ("echo ${#HOME}\n# length", "echo ${#HOME}", "length"),
    # chatty models: the command in a sentence's code span, or on the line after it
    ("You can use the command `find . -maxdepth 1 -name '*.txt'` to find them.",
     "find . -maxdepth 1 -name '*.txt'", ""),
    ("To list them, run `ls -la`.\n# lists", "ls -la", "lists"),
    ("Use `-n` with `sort -n nums.txt`", "sort -n nums.txt", ""),
    ("You can use the following command:\nfind . -empty -delete\n# deletes",
     "find . -empty -delete", "deletes"),
    ("You can use the following command to delete all empty files:", "", ""),
    ("Sure:", "", ""),
    # not sentences
    ("echo Today is `date`", "echo Today is `date`", ""),
    ("VBoxManage list vms", "VBoxManage list vms", ""),
    ("Rscript analysis.R", "Rscript analysis.R", ""),
])
def test_parse_answer(text, command, explanation):
    assert g.parse_answer(text) == (command, explanation)


@pytest.mark.parametrize("command", [
    "ls -la",
    "find . -name '*.log' -mtime +7 -delete",
    "for f in *.jpeg; do mv -- \"$f\" \"${f%.jpeg}.jpg\"; done",
    "git branch -d <branch>",  # placeholders are not redirections
    "cp <source> <dest>",
    "du -sh -- * | sort -rh | head -n 5",
])
def test_valid_commands_parse(command):
    assert g.parse_error(command) is None


@pytest.mark.parametrize("command", [
    "", "ls |", "for f in *; do echo $f", "echo 'unterminated", "if true; then ls",
])
def test_invalid_commands_are_reported(command):
    assert g.parse_error(command)


def test_keywords_drop_stopwords_and_short_words():
    assert g.keywords("show all the log files in the folder older than 7 days") == \
        ["log", "older", "days"]


def test_user_prompt_has_context_and_request(project):
    ctx = g.gather_context(project, shell="zsh")
    assert ctx.listing == ("notes.txt", "src/")
    assert not ctx.git
    (project / ".git").mkdir()
    ctx = g.gather_context(project / "src", shell="zsh")
    assert ctx.git
    text = g.user_prompt("remove pyc files", ctx, ["find . -name '*.pyc' -delete"], ["find: x"])
    assert "git repository" in text and "main.py" in text
    assert "find . -name '*.pyc' -delete" in text and "find: x" in text
    assert text.rstrip().endswith("Request: remove pyc files")
    assert "zsh" in g.system_prompt(ctx)


def test_past_corrections_are_shown_to_the_model(tmp_path, monkeypatch):
    from cmdai.config import GenerateConfig
    from cmdai.history import generations
    from cmdai.history.entry import Entry
    from cmdai.history.store import Store
    from tests.doubles import FixedBackend

    db = tmp_path / "h.db"
    t = 1_700_000_000 * 10**9
    with Store.open(db) as store:
        generations.record(store, generations.Generation(
            request="make a zip of the docs folder", command="tar -czf docs.tgz docs",
            session="s1", timestamp=t))
        store.insert([Entry("zip -r docs.zip docs", t + 5 * 10**9, "s1", exit=0)])
        generations.link(store, now_ns=t + 6 * 10**9)
    monkeypatch.setenv("CMDAI_TEST_ANSWER", "zip -r notes.zip notes\n# zip it")
    answer = g.generate("zip the notes folder", cfg=GenerateConfig(prompt="full"),
                        cwd=str(tmp_path), backends=[FixedBackend(None)], db=db)
    user = answer.prompt["user"]
    assert "asked: make a zip of the docs folder\n  ran: zip -r docs.zip docs" in user
    assert user.count("zip -r docs.zip docs") == 1  # not repeated among the plain examples
    plain = g.generate("zip the notes folder", cfg=GenerateConfig(prompt="plain"),
                       cwd=str(tmp_path), backends=[FixedBackend(None)], db=db)
    assert "asked:" not in plain.prompt["user"]  # a shape without history shows none


def test_every_user_datum_goes_through_the_secrets_hook(monkeypatch, project):
    seen = []

    def scrub(text: str) -> str:
        seen.append(text)
        return text.replace("hunter2", "<redacted>")

    monkeypatch.setattr(g, "scrub_secrets", scrub)
    (project / "hunter2.txt").write_text("")
    ctx = g.gather_context(project)
    text = g.user_prompt("log in with password hunter2", ctx, ["mysql -phunter2"], [])
    assert "hunter2" not in text
    assert len(seen) >= 3


def test_candidate_utilities_named_or_hinted():
    assert g.candidate_utilities("compress the logs with tar")[0] == "tar"
    assert "find" in g.candidate_utilities("files older than a week")


class _Scripted:
    """Answers in turn from a list, keeping the requests it was sent."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers, self.requests = list(answers), []

    def health(self):
        from cmdai.backends import Health

        return Health(True, "test double")

    def complete(self, request):
        from cmdai.backends import Completion

        self.requests.append(request)
        return Completion(text=self.answers.pop(0), model="scripted", total_ms=1.0)


def test_a_sentence_without_a_command_is_asked_again(project):
    from cmdai.config import GenerateConfig
    from cmdai.errors import ModelError

    backend = _Scripted("You can use the following command to delete all empty files:",
                        "find . -type f -empty -delete\n# empty files")
    answer = g.generate("delete all empty files", cfg=GenerateConfig(), cwd=str(project),
                        backends=[backend])
    assert answer.command == "find . -type f -empty -delete" and answer.attempts == 2
    retry = backend.requests[1].user
    assert "`You can use the following command to delete all empty files:`" in retry
    assert "write the command itself on the first line" in retry
    twice = _Scripted("Sure, here it is:", "The command would be the find utility.")
    with pytest.raises(ModelError, match="not a valid command"):
        g.generate("delete all empty files", cfg=GenerateConfig(), cwd=str(project),
                   backends=[twice])
