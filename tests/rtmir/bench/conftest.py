"""The JACK dummy-server fixture (shared with tests/rtmir/hosts), never skipped."""
from jack_tools import jack_server  # noqa: F401
