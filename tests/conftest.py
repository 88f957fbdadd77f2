import sys
from pathlib import Path

# tests/rtmir/graphs.py and other helpers are imported as plain modules
sys.path.insert(0, str(Path(__file__).resolve().parent / "rtmir"))
