from tests.generate.conftest import installed  # noqa: F401  (the real models, shared)
