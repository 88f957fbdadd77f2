"""rtmir: a real-time, plugin-style audio streaming engine for music information retrieval.

The runtime never imports torch. Public pieces::

    from rtmir import Processor, ProcessSpec, Event, BlockAdapter, Engine, StreamingSession
"""
from .core.adapter import BlockAdapter
from .core.engine import Engine
from .core.processor import Event, Processor, ProcessSpec
from .session import ModelError, StreamingSession

__version__ = "0.1.0"
__all__ = ["BlockAdapter", "Engine", "Event", "ModelError", "Processor", "ProcessSpec", "StreamingSession"]
