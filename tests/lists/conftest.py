from tests.reports.conftest import make_batch  # noqa: F401  (a fixture, shared)
