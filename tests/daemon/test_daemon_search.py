"""`cmdai search` answered by a running daemon: the same ranking, with the model kept warm."""

from __future__ import annotations

import json

from cmdai.history.store import Store
from tests.daemon.test_daemon import cli, env, request  # noqa: F401 (env is a fixture)
from tests.search.conftest import seed_entries


def searches(env) -> int:  # noqa: F811
    return json.loads(cli(env, "daemon", "status", "--json").stdout)["searches"]


def test_search_goes_through_the_daemon_and_ranks_the_same(env, cmdai_home):  # noqa: F811
    with Store.open(cmdai_home / "data" / "history.db") as store:
        store.insert(seed_entries())
    args = ("search", "--json", "--limit", "5", "clean up unused docker volumes")
    alone = json.loads(cli(env, *args).stdout)  # no daemon: in-process
    cli(env, "daemon", "start")
    assert searches(env) == 0
    by_daemon = json.loads(cli(env, *args).stdout)
    assert searches(env) == 1
    assert [h["command"] for h in by_daemon] == [h["command"] for h in alone]
    assert by_daemon[0]["command"] == "docker volume prune -f"
    assert [h["count"] for h in by_daemon] == [h["count"] for h in alone]
    # hard filters travel with the request
    filtered = json.loads(cli(env, *args[:-1], "--cwd", "/home/u", args[-1]).stdout)
    assert filtered and {h["cwd"] for h in filtered} == {"/home/u"}
    assert searches(env) == 2
    # text modes stay in-process: the index narrows them without a model
    cli(env, "search", "--mode", "fulltext", "docker")
    assert searches(env) == 2


def test_a_bad_search_request_is_refused_with_the_reason(env, cmdai_home):  # noqa: F811
    cli(env, "daemon", "start")
    reply = request(cmdai_home, op="search", text="x", mode="telepathy")[-1]
    assert reply["type"] == "error" and reply["code"] == 2 and "mode" in reply["message"]
    reply = request(cmdai_home, op="search", text="x", filters={"color": "red"})[-1]
    assert reply["type"] == "error" and "filters" in reply["message"]
    assert request(cmdai_home, op="ping")[-1]["type"] == "pong"  # still serving

