# The benchmarks use the test suite's fixtures (database, real worker processes).
from tests.conftest import *  # noqa: F403
