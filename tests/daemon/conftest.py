from tests.generate.conftest import REAL_MODELS, installed, link_model  # noqa: F401
