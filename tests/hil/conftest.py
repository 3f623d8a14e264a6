from tests.integration.conftest import dictionary  # noqa: F401 - shared session fixture
