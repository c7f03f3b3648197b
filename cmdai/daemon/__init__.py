"""The per-user daemon: keeps the model warm, ingests the spool as it appears, answers Ctrl-G.

Protocol (``protocol.py``): newline-delimited JSON over a unix socket, one request per
connection, each with ``"v": 1``. Replies stream: progress and token lines, then one final
``result`` or ``error`` line. ``cmdai/client.py`` is the widget's stdlib-only client;
``cmdai assist --stream`` speaks the same lines on stdout when no daemon can be reached.
"""
