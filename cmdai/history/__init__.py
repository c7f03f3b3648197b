"""Shell history: the APSW store, spool ingest, and (later) importers and redaction."""
