"""``cmdai history prune``: apply the current filters and redaction rules to what is stored.

Filtered entries are deleted (their text wiped, see Store.delete); entries holding a secret are
rewritten with the secret redacted and get the dedup key of the redacted text, so importing the
same history again (redacted on the way in) adds nothing. Ctrl-G requests and proposals in the
``generations`` table are redacted too. The FTS index is merged and the WAL truncated so that the
old text leaves the database files (``PRAGMA secure_delete`` zeroes freed space).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cmdai.history.entry import Entry
from cmdai.history.store import Store
from cmdai.privacy import Policy


@dataclass
class PruneReport:
    dry_run: bool
    scanned: int = 0
    redacted: int = 0  # entries rewritten
    deleted: int = 0  # entries removed by a filter
    duplicates: int = 0  # entries whose redacted form was already stored: removed
    generations: int = 0  # Ctrl-G records rewritten
    kinds: Counter[str] = field(default_factory=Counter)  # secrets redacted, by kind
    reasons: Counter[str] = field(default_factory=Counter)  # entries removed, by config key
    examples: list[str] = field(default_factory=list)  # a few rewritten commands (redacted)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "scanned": self.scanned, "redacted": self.redacted,
            "deleted": self.deleted, "duplicates": self.duplicates,
            "generations": self.generations, "kinds": dict(self.kinds.most_common()),
            "reasons": dict(self.reasons.most_common()),
        }


def _has_generations(store: Store) -> bool:
    return bool(store.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'generations'"
    ).fetchall())


def prune(store: Store, policy: Policy, *, dry_run: bool = False) -> PruneReport:
    report = PruneReport(dry_run=dry_run)
    rows = store.conn.execute(
        "SELECT id, timestamp, session, command, cwd, exit FROM history WHERE deleted_at IS NULL"
    ).fetchall()
    doomed: list[int] = []
    rewrites: list[tuple[int, str, bytes]] = []
    old_text: dict[int, str] = {}
    for entry_id, ts, session, command, cwd, exit_ in rows:
        report.scanned += 1
        reason = policy.filtered(command, cwd, exit_)
        if reason:
            report.reasons[reason] += 1
            doomed.append(entry_id)
            continue
        new, kinds = policy.redact_kinds(command)
        if kinds:
            report.kinds.update(kinds)
            key = Entry(command=new, timestamp=ts, session=session).dedup_key()
            rewrites.append((entry_id, new, key))
            old_text[entry_id] = command
            if len(report.examples) < 5:
                report.examples.append(new)
    gen_rewrites: list[tuple[int, str, str]] = []
    if _has_generations(store):
        for gid, request, proposal in store.conn.execute(
            "SELECT id, request, command FROM generations"
        ).fetchall():
            r2, k1 = policy.redact_kinds(request)
            c2, k2 = policy.redact_kinds(proposal)
            if k1 or k2:
                gen_rewrites.append((gid, r2, c2))
    report.generations = len(gen_rewrites)
    report.deleted = len(doomed)
    if dry_run:
        report.redacted = len(rewrites)
        return report
    with store.conn:
        for entry_id, new, key in rewrites:
            clash = store.conn.execute(
                "SELECT 1 FROM history WHERE dedup = ? AND id != ?", (key, entry_id)
            ).fetchall()
            if clash:  # the redacted form is already stored (imported after redaction existed)
                report.duplicates += 1
                doomed.append(entry_id)
                continue
            store.conn.execute(
                "UPDATE history SET command = ?, dedup = ? WHERE id = ?", (new, key, entry_id)
            )
            report.redacted += 1
        store.forget_vectors(old_text[entry_id] for entry_id, _, _ in rewrites)
        for gid, request, proposal in gen_rewrites:
            store.conn.execute(
                "UPDATE generations SET request = ?, command = ? WHERE id = ?", (request, proposal, gid)
            )
    if doomed:
        store.delete(doomed)  # wipes the text, merges the FTS index, truncates the WAL
    elif rewrites or gen_rewrites:
        store.conn.execute("INSERT INTO history_fts(history_fts) VALUES ('optimize')")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return report
