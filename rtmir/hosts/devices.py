"""Audio devices as PortAudio (via sounddevice) sees them: listing, refreshing, resolving.

``rtmir devices`` prints ``format_devices()``. ``LiveHost`` uses ``resolve_stream`` to turn a
device name/index, channel count and sample rate into settings PortAudio accepts — or one clear
``AudioDeviceError`` line.

PortAudio enumerates devices once, at initialisation (when ``sounddevice`` is imported). A JACK
server started later is invisible until ``refresh()`` (``sd._terminate(); sd._initialize()``;
PLATFORM.md). ``refresh`` closes every stream this process has open, so call it only when none is.
None of this is real-time code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

NO_INPUT_HINT = "start JACK/PulseAudio or pass --device (see `rtmir devices`)"
NO_DEVICES = ("PortAudio sees no audio devices: start a JACK or PulseAudio server (or connect a "
              "device), then run `rtmir devices` again")


class AudioDeviceError(ValueError):
    """No usable audio device, an unknown device, or settings the device refuses.

    A ``ValueError`` so the CLI turns it into exit code 2 with its one-line message.
    """


def _sd():
    """Import sounddevice lazily (the runtime imports it only for live audio)."""
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise AudioDeviceError(f"PortAudio is not available ({exc}): install libportaudio2") from None
    return sd


def refresh() -> None:
    """Re-initialise PortAudio so devices (e.g. a JACK server) that appeared since import show up.

    Closes every open stream of this process: call it only when none is open.
    """
    sd = _sd()
    sd._terminate()
    sd._initialize()


_client_name: bytes | None = None  # PortAudio keeps the pointer: the bytes must outlive it


def set_jack_client_name(name: str) -> None:
    """Name the JACK client PortAudio opens (default "PortAudio"; JACK may add a suffix when the
    name is taken). PortAudio reads it when it initialises, so this re-initialises it: call it
    before any stream is open.

    Raises:
        AudioDeviceError: an empty, too long or non-ASCII name, or a PortAudio without JACK.
    """
    import ctypes

    global _client_name
    if not name or len(name) > 63 or not name.isascii() or ":" in name:
        raise AudioDeviceError(f"--client-name must be 1…63 ASCII characters without ':', got {name!r}")
    sd = _sd()
    try:
        lib = ctypes.CDLL(sd._libname)
        setter = lib.PaJack_SetClientName
    except (OSError, AttributeError):
        raise AudioDeviceError("--client-name needs a PortAudio built with JACK support") from None
    setter.argtypes, setter.restype = [ctypes.c_char_p], ctypes.c_int
    while sd._initialized:
        sd._terminate()
    _client_name = name.encode()
    if setter(_client_name) != 0:
        sd._initialize()
        raise AudioDeviceError(f"PortAudio refused the JACK client name {name!r}")
    sd._initialize()


def jack_client_name() -> str:
    """The JACK client name PortAudio uses: ``set_jack_client_name``'s, else PortAudio's default."""
    return _client_name.decode() if _client_name else "PortAudio"


def list_devices() -> list[dict]:
    """Every PortAudio device.

    Returns:
        One dict per device: ``index``, ``name``, ``hostapi`` (name), ``max_input_channels``,
        ``max_output_channels``, ``default_samplerate`` (Hz), ``default_input``,
        ``default_output`` (bools: PortAudio's default devices).
    """
    sd = _sd()
    apis = sd.query_hostapis()
    default_in, default_out = _default_indices(sd)
    rows = []
    for dev in sd.query_devices():
        rows.append(
            {
                "index": dev["index"],
                "name": dev["name"],
                "hostapi": apis[dev["hostapi"]]["name"],
                "max_input_channels": dev["max_input_channels"],
                "max_output_channels": dev["max_output_channels"],
                "default_samplerate": float(dev["default_samplerate"]),
                "default_input": dev["index"] == default_in,
                "default_output": dev["index"] == default_out,
            }
        )
    return rows


def _default_indices(sd) -> tuple[int, int]:
    """PortAudio's default (input, output) device indices; -1 where there is none."""
    pair = sd.default.device
    return tuple(i if isinstance(i, int) else -1 for i in (pair[0], pair[1]))


def format_devices(rows: list[dict] | None = None) -> str:
    """The ``rtmir devices`` table: ``>`` marks the default input, ``<`` the default output."""
    rows = list_devices() if rows is None else rows
    if not rows:
        return NO_DEVICES
    lines = [f"{'':2} {'#':>3}  {'name':<40} {'host API':<26} {'in':>3} {'out':>3} {'rate':>7}"]
    for r in rows:
        mark = (">" if r["default_input"] else " ") + ("<" if r["default_output"] else " ")
        lines.append(
            f"{mark} {r['index']:>3}  {r['name'][:40]:<40} {r['hostapi'][:26]:<26} "
            f"{r['max_input_channels']:>3} {r['max_output_channels']:>3} {r['default_samplerate']:>7.0f}"
        )
    lines.append("> default input, < default output")
    return "\n".join(lines)


@dataclass(frozen=True)
class StreamSettings:
    """What ``LiveHost`` will open.

    Attributes:
        device: PortAudio device index (input; also output when ``output``).
        name: the device's name (for messages and the summary).
        sample_rate: Hz, accepted by the device.
        channels: input channels.
        output: duplex (True) or input-only (False).
        out_channels: output channels (0 without output).
    """

    device: int
    name: str
    sample_rate: int
    channels: int
    output: bool
    out_channels: int = 0


def resolve_stream(device: int | str | None, channels: int, sample_rate: int | None, output: bool,
                   out_channels: int | None = None) -> StreamSettings:
    """Check ``device`` can capture ``channels`` at ``sample_rate`` (and play, if ``output``).

    Args:
        device: index, name substring (as sounddevice matches it), or None for the default.
        channels: input channels wanted (≥ 1).
        sample_rate: Hz, or None for the device's default rate.
        output: whether the device must also play.
        out_channels: channels it must play (None: as many as it captures).

    Raises:
        AudioDeviceError: no input device at all, unknown device, too few channels, or a rate
            the device refuses — each as one line saying what to do.
    """
    sd = _sd()
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    info = _query_input(sd, device)
    name = info["name"]
    if channels > info["max_input_channels"]:
        raise AudioDeviceError(
            f"device {name!r} has {info['max_input_channels']} input channels, {channels} requested"
        )
    rate = int(sample_rate or info["default_samplerate"])
    _check(sd.check_input_settings, info, channels, rate)
    outs = int(out_channels or channels) if output else 0
    if output:
        if outs > info["max_output_channels"]:
            raise AudioDeviceError(
                f"device {name!r} has {info['max_output_channels']} output channels, {outs} needed "
                "for the output; run without output, with fewer --out-channels, or pick another device"
            )
        _check(sd.check_output_settings, info, outs, rate)
    return StreamSettings(int(info["index"]), name, rate, int(channels), bool(output), outs)


def _query_input(sd, device) -> dict:
    if device is None and _default_indices(sd)[0] < 0:
        if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            raise AudioDeviceError(f"no audio input device: {NO_INPUT_HINT}")
    try:
        return sd.query_devices(device, "input")
    except ValueError as exc:  # unknown name / index without inputs
        raise AudioDeviceError(f"no audio input device matching {device!r} ({exc}): see `rtmir devices`") from None
    except sd.PortAudioError as exc:  # "Error querying device -1": no default input
        raise AudioDeviceError(f"no audio input device ({exc}): {NO_INPUT_HINT}") from None


def _check(check, info: dict, channels: int, rate: int) -> None:
    sd = _sd()
    try:
        check(device=info["index"], channels=channels, dtype="float32", samplerate=rate)
    except sd.PortAudioError as exc:
        default = int(info["default_samplerate"])
        hint = f"; its default rate is {default} Hz" if default != rate else ""
        raise AudioDeviceError(
            f"device {info['name']!r} refuses {channels} channel(s) at {rate} Hz ({exc}){hint}"
        ) from None
