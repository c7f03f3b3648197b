"""The safety engine: judge a shell command line before anyone runs it.

    from cmdai.safety import check
    verdict = check("rm -rf ~/build", cwd="/home/me")
    verdict.level   # "safe" | "moderate" | "high" | "critical"
    verdict.action  # "allow" | "warn" | "confirm" | "block" (from the policy)

The line is parsed with tree-sitter-bash into every simple command it would run (recursively
through sh -c, eval, sudo, xargs, find -exec ...); rules are data in ``rules.toml``. Importing this
package is cheap: tree-sitter is loaded on the first check.
"""

from __future__ import annotations

from cmdai.safety.engine import LEVELS, POLICIES, RuleMatch, Verdict, check, reset_cache, ruleset

__all__ = ["LEVELS", "POLICIES", "RuleMatch", "Verdict", "check", "reset_cache", "ruleset"]
