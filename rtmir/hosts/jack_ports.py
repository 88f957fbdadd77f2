"""``rtmir live --input-ports/--output-ports``: which JACK ports rtmir's stream is wired to.

PortAudio's JACK backend connects a new stream to ``system:capture_*``/``system:playback_*``.
With ports named (each option repeatable), rtmir replaces those connections once its stream has started: its input ``i``
takes the ``i``-th port the patterns match (each pattern a JACK port name or a regular
expression, as ``jack_lsp``/``jack_get_ports`` match them, in the order given; a port matched
twice counts once), its output ``i`` feeds the ``i``-th; ``none`` leaves them unconnected (wire
them by hand, e.g. in qjackctl). Patterns are resolved *before* the stream opens, so a pattern
that matches nothing is one clear line, exit 2, with nothing streamed.

Needs the JACK-Client package (``pip install 'rtmir[jack]'``); the runtime works without it
until these options are used.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .devices import AudioDeviceError

log = logging.getLogger("rtmir")

#: the pattern that means "connect nothing"
NONE = "none"


@dataclass(frozen=True)
class PortPlan:
    """The JACK ports to wire rtmir's stream to (None: leave PortAudio's connections)."""

    sources: tuple[str, ...] | None  # feed rtmir's inputs 1, 2, ...
    sinks: tuple[str, ...] | None  # fed by rtmir's outputs 1, 2, ...


def _client(name: str):
    try:
        import jack
    except ImportError:
        raise AudioDeviceError("--input-ports/--output-ports need the JACK-Client package: "
                               "pip install 'rtmir[jack]'") from None
    try:
        return jack.Client(name, no_start_server=True)
    except jack.JackError as exc:
        raise AudioDeviceError(f"--input-ports/--output-ports: no JACK server to talk to ({exc})") from None


def _match(client, patterns: list[str], output: bool, option: str) -> tuple[str, ...]:
    found: list[str] = []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise AudioDeviceError(f"{option}: bad pattern {pattern!r}: {exc}") from None
        ports = [p.name for p in client.get_ports(pattern, is_audio=True, is_output=output, is_input=not output)]
        if not ports:
            kind = "output (a source)" if output else "input (a destination)"
            raise AudioDeviceError(f"{option}: no JACK audio {kind} port matches {pattern!r} (see `jack_lsp`)")
        found += [p for p in ports if p not in found]
    return tuple(found)


def resolve(inputs: list[str] | None, outputs: list[str] | None) -> PortPlan:
    """Check the patterns against the running JACK server and list the ports they name.

    Raises:
        AudioDeviceError: no JACK-Client package, no server, a bad pattern or one matching nothing.
    """
    if inputs is None and outputs is None:
        return PortPlan(None, None)
    client = _client("rtmir-ports")
    try:
        sources = None if inputs is None else (() if inputs == [NONE] else _match(client, inputs, True, "--input-ports"))
        sinks = None if outputs is None else (() if outputs == [NONE] else _match(client, outputs, False, "--output-ports"))
    finally:
        client.close()
    return PortPlan(sources, sinks)


def apply(plan: PortPlan, client_name: str, inputs: int, outputs: int) -> dict[str, list[str]]:
    """Rewire the started stream's ports (those of JACK client ``client_name``, which has
    ``inputs`` and ``outputs`` audio ports) as ``plan`` says.

    Returns:
        ``{rtmir port: [ports it is connected to now]}`` for the ports rewired.

    Raises:
        AudioDeviceError: the client has other port counts (JACK renamed it because the name
            was taken, so these ports may be another program's: give ``--client-name``).
    """
    if plan.sources is None and plan.sinks is None:
        return {}
    client = _client("rtmir-ports")
    wired: dict[str, list[str]] = {}
    try:
        prefix = f"^{re.escape(client_name)}:"
        for names, ours_are_inputs, count in ((plan.sources, True, inputs), (plan.sinks, False, outputs)):
            if names is None:
                continue
            ours = client.get_ports(prefix, is_audio=True, is_input=ours_are_inputs, is_output=not ours_are_inputs)
            if len(ours) != count:
                raise AudioDeviceError(
                    f"JACK client {client_name!r} has {len(ours)} {'input' if ours_are_inputs else 'output'} "
                    f"ports, the stream {count}: the name is probably another program's (give --client-name NAME)")
            if len(names) != count:
                log.warning("%s: %d JACK ports named for %d %s: %s", "--input-ports" if ours_are_inputs
                            else "--output-ports", len(names), count, "inputs" if ours_are_inputs else "outputs",
                            "the extra ones are not connected" if len(names) > count else "the rest stay unconnected")
            for i, port in enumerate(ours):
                for other in client.get_all_connections(port):
                    if ours_are_inputs:
                        client.disconnect(other, port)
                    else:
                        client.disconnect(port, other)
                if i < len(names):
                    if ours_are_inputs:
                        client.connect(names[i], port)
                    else:
                        client.connect(port, names[i])
                wired[port.name] = [p.name for p in client.get_all_connections(port)]
    finally:
        client.close()
    return wired
