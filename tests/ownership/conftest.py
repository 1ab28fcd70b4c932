"""The secured bus (tests/bus/conftest.py): the generated permissions, one login per principal."""

from tests.bus.conftest import connect_as, secured_bus  # noqa: F401  (fixtures)
