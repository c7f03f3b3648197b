"""cmdai: a local, private shell assistant.

Importing this package must stay cheap: no heavy library is imported here.
"""

__version__ = "0.1.0"
