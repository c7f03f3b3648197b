"""Option lines from local docs (cmdai.retrieval.options), the post-check, and prompt shapes."""

from __future__ import annotations

import shutil

import pytest

from cmdai import generate as g
from cmdai.config import GenerateConfig
from cmdai.errors import ConfigError
from cmdai.retrieval import options, stem, stems
from tests.doubles import FixedBackend


def scripted(monkeypatch, answers: list[str]) -> tuple[FixedBackend, list[str]]:
    """A backend answering ``answers`` in turn, and the list of the requests it was sent."""
    replies = iter(answers)
    seen: list[str] = []

    class Scripted(FixedBackend):
        def complete(self, request):
            seen.append(request.user)
            monkeypatch.setenv("CMDAI_TEST_ANSWER", next(replies))
            return super().complete(request)

    return Scripted(None), seen

SORT_HELP = """Usage: sort [OPTION]... [FILE]...
Ordering options:

  -b, --ignore-leading-blanks  ignore leading blanks
  -f, --ignore-case           fold lower case to upper case characters
  -h, --human-numeric-sort    compare human readable numbers (e.g., 2K 1G)
  -n, --numeric-sort          compare according to string numerical value
  -r, --reverse               reverse the result of comparisons
      --sort=WORD             sort according to WORD:
                                general-numeric -g, human-numeric -h
  -u, --unique              output only the first of an equal run
"""

FIND_MAN = """FIND(1)                 General Commands Manual                FIND(1)

NAME
       find - search for files in a directory hierarchy

TESTS
       -iname pattern
              Like -name, but the match is case insensitive.  For example, the
              patterns `fo*' and `F??' match the file names `Foo'.

       -mtime n
              File's data was last modified less than, more than or exactly n*24
              hours ago.

       -empty File is empty and is either a regular file or a directory.
"""


def test_stems_match_word_forms():
    assert stem("numerically") == stem("numerical") == "numer"
    assert stem("lines") == "line" and stem("numbers") == stem("number")
    assert stems("Show the files in the folder, sorted") == ["file", "fold", "sort"]


def test_parse_help_keeps_flags_description_and_continuations():
    opts = options.parse_help(SORT_HELP, "sort")
    by_flag = {o.flags: o.description for o in opts}
    assert by_flag["-n, --numeric-sort"] == "compare according to string numerical value"
    assert by_flag["--sort=WORD"] == "sort according to WORD: general-numeric -g, human-numeric -h"
    assert by_flag["-u, --unique"] == "output only the first of an equal run"
    assert "Usage:" not in " ".join(by_flag)


def test_parse_man_reads_indented_entries_first_sentence_only():
    opts = {o.flags: o.description for o in options.parse_man(FIND_MAN, "find")}
    assert opts["-iname pattern"] == "Like -name, but the match is case insensitive"
    assert opts["-mtime n"].startswith("File's data was last modified")
    assert opts["-empty"] == "File is empty and is either a regular file or a directory"


def test_relevant_picks_the_option_the_request_describes(monkeypatch):
    monkeypatch.setattr(options, "options_of",
                        lambda u: tuple(options.parse_help(SORT_HELP, u)) if u == "sort" else ())
    best = options.relevant("sort data/numbers.txt numerically", ["sort"], limit=1, min_score=1)
    assert [o.flags for o in best] == ["-n, --numeric-sort"]
    # file names in the request do not count ("numbers.txt" is not about numbers)
    assert options.relevant("sort numbers.txt", ["sort"]) == []
    assert options.relevant("bake a cake", ["sort", "nosuchtool"]) == []


@pytest.mark.skipif(not (shutil.which("grep") and shutil.which("man")), reason="needs grep, man")
def test_real_docs_on_this_machine():
    grep = options.options_of("grep")
    assert any(o.flags.startswith("-n") for o in grep)  # from --help
    assert options.options_of("no-such-utility-xyz") == ()
    lines = g.doc_lines("grep FIXME in the src folder with line numbers", None, 2)
    assert any(line.startswith("grep -n") for line in lines)
    # a tool only guessed from the request's words ("search" -> grep) gets no option lines
    assert g.doc_lines("search FIXME in the src folder with line numbers", None, 2) == []


def test_english_words_that_are_programs_are_not_taken_for_named_tools():
    named = g.named_utilities("print the top 5 lines as a test, then sort them")
    assert "sort" in named or not shutil.which("sort")
    assert not {"print", "top", "as", "test"} & set(named)


@pytest.mark.parametrize("command, problem, repaired", [
    ("ls |", "missing", None),
    ("ls -1 data/n.txt | sort -n | head -n 1", "prints only the name data/n.txt",
     "sort -n < data/n.txt | head -n 1"),
    ("find data/n.txt -type f | wc -l", "prints only the name", "wc -l < data/n.txt"),
    ("find /path/to/search -name '*.py'", "/path/to/search is a made-up path", None),
])
def test_post_check_finds_the_problem(tmp_path, command, problem, repaired):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "n.txt").write_text("3\n1\n")
    found, fixed = g.check_answer(command, "the largest number in data/n.txt", str(tmp_path))
    assert found and problem in found
    assert fixed == repaired
    assert fixed is None or g.parse_error(fixed) is None


@pytest.mark.parametrize("command", [
    "sort -n data/n.txt | tail -n 1",
    "ls -l data/n.txt | awk '{print $5}'",  # ls -l shows metadata: reading it is right
    "find data -name '*.txt' | wc -l",  # a directory, not a named file
    "find data/n.txt -exec wc -l {} +",
    "find data/n.txt | xargs wc -l",  # xargs wants the names
    "ls *.txt | wc -l",
    "cp /path/to/x .",  # the request gave this path
])
def test_post_check_leaves_good_commands_alone(tmp_path, command):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "n.txt").write_text("3\n1\n")
    assert g.check_answer(command, "copy /path/to/x here", str(tmp_path)) == (None, None)


def test_a_made_up_path_is_retried_once_with_the_problem(monkeypatch, project):
    backend, seen = scripted(monkeypatch, ["find /path/to/dir -name '*.txt'\n# text files",
                                           "find . -name '*.txt'\n# text files"])
    answer = g.generate("find the text files", cfg=GenerateConfig(), cwd=str(project),
                        backends=[backend])
    assert answer.command == "find . -name '*.txt'" and answer.attempts == 2
    assert "/path/to/dir is a made-up path" in seen[1]


def test_listing_a_named_file_is_repaired_without_a_retry(monkeypatch, project):
    monkeypatch.setenv("CMDAI_TEST_ANSWER", "ls notes.txt | sort -r\n# sorted")
    answer = g.generate("sort notes.txt backwards", cfg=GenerateConfig(), cwd=str(project),
                        backends=[FixedBackend(None)])
    assert answer.command == "sort -r < notes.txt" and answer.attempts == 1


def test_prompt_shape_comes_from_the_catalog_unless_configured():
    assert g.prompt_shape(GenerateConfig(model="qwen2.5-coder-1.5b")) == g.SHAPES["full"]
    from cmdai import models

    small = models.get("qwen2.5-coder-0.5b").prompt
    assert small in g.SHAPES
    assert g.prompt_shape(GenerateConfig(model="qwen2.5-coder-0.5b")) == g.SHAPES[small]
    assert g.prompt_shape(GenerateConfig(model="qwen2.5-coder-0.5b", prompt="full")) == \
        g.SHAPES["full"]
    assert g.prompt_shape(GenerateConfig(model_path="/x.gguf")) == g.SHAPES["full"]
    with pytest.raises(ConfigError):
        g.prompt_shape(GenerateConfig(prompt="huge"))


def test_shapes_change_what_the_model_sees(project):
    ctx = g.gather_context(project, shell="bash")
    full, compact, plain = (g.system_prompt(ctx, g.SHAPES[n]) for n in ("full", "compact", "plain"))
    assert "Request:" in full and "Request:" not in compact and "Rules:" in compact
    assert "Rules:" not in plain and len(plain) < len(compact) < len(full)
    answer = g.generate("count lines in notes.txt", cfg=GenerateConfig(prompt="plain"),
                        cwd=str(project), backends=[FixedBackend(None)])
    assert "files here" not in answer.prompt["user"]  # plain: no listing


@pytest.mark.skipif(not (shutil.which("find") and shutil.which("man") and shutil.which("grep")),
                    reason="needs find's man page and grep")
@pytest.mark.parametrize("command, bad", [
    ('find . -type f -name "*.txt" -i', "-i"),
    ("find . -mtime +7 -size -10c -perm -u+x -exec rm -i {} \\; -print", None),  # rm's -i
    ("find . -name '*.js' -o -name '*.css' ! -path './x/*'", None),
    ("find . -newermt 2020-01-01 -uid 0", None),
    ("grep --recursive --line-numbr foo .", "--line-numbr"),
    ("grep --line foo .", None),  # a unique prefix of --line-number/--line-buffered: GNU takes it
    ("xargs -0 mv --target-directory=d", None),  # xargs' words are another command's
    ("some-unknown-tool --whatever", None),  # undocumented here: cannot tell
])
def test_options_the_local_documentation_does_not_know(command, bad):
    import shlex

    assert options.unknown_option(shlex.split(command)) == bad


@pytest.mark.skipif(not (shutil.which("find") and shutil.which("man")), reason="needs find docs")
def test_an_unknown_option_is_retried_with_the_matching_docs(monkeypatch, project):
    backend, seen = scripted(monkeypatch, ['find . -type f -name "*.txt" -i\n# case insensitive',
                                           "find . -type f -iname '*.txt'\n# case insensitive"])
    answer = g.generate("find files ending in .txt, case insensitive", cfg=GenerateConfig(),
                        cwd=str(project), backends=[backend])
    assert answer.command == "find . -type f -iname '*.txt'" and answer.attempts == 2
    assert "find has no option -i" in seen[1] and "find -iname pattern" in seen[1]


@pytest.mark.parametrize("command, repaired", [
    ("find /path/to/search -type f -mtime +7", "find . -type f -mtime +7"),
    ("grep -c ERROR /path/to/logfiles/*", "grep -c ERROR <logfiles>*"),
    ("cp a.txt /your/backup/dir/", "cp a.txt <dir>"),
    ("cp /path/to/x .", "cp /path/to/x ."),  # the request's own path stays
])
def test_made_up_paths_left_after_the_retry_are_repaired(command, repaired):
    fixed = g.repair_made_up(command, "copy /path/to/x here")
    assert fixed == repaired and g.parse_error(fixed) is None


def test_a_retry_that_still_invents_a_path_is_repaired(monkeypatch, project):
    monkeypatch.setenv("CMDAI_TEST_ANSWER", "find /path/to/search -name '*.md'\n# markdown")
    answer = g.generate("find all markdown files", cfg=GenerateConfig(), cwd=str(project),
                        backends=[FixedBackend(None)])
    assert answer.command == "find . -name '*.md'" and answer.attempts == 2
