"""Terminal UIs (prompt-toolkit, imported only inside the functions that draw)."""
