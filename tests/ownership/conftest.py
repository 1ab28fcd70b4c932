"""The secured bus (tests/runtime/bus/conftest.py): the generated permissions, one login per
principal."""

from tests.runtime.bus.conftest import connect_as, secured_bus  # noqa: F401  (fixtures)
