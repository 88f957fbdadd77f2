"""``rtmir validate``: a pluginval-style validator for every processor and graph node.

Every check drives the subject through a real ``core.engine.Engine`` the way hosts do
(``harness.py``) and returns pass, fail or n/a with the figure it measured (``docs/VALIDATE.md``):

    blocks       random host block sequences 1…8192 = fixed blocks      checks.py
    rates        8 k…192 kHz × 1/2/6 channels; C copies = mono          checks.py
    stream       models: stream = offline (≤ 1e-4, tokens exact)         checks.py
    reset        after reset = a fresh instance, bit for bit             checks.py
    instances    two interleaved instances stay independent              checks.py
    threads      prepare, push, reset on different threads               checks.py
    determinism  same input twice, same output                           checks.py
    silence      a minute of silence: finite, no slowdown                robustness.py
    extremes     NaN/Inf (replaced by the engine), noise, DC: finite      robustness.py
    params       each declared range fuzzed mid-stream, read back        robustness.py
    refuse       out-of-range values and unknown names raise             robustness.py
    latency      declared = measured (impulse / tone step)               latency.py
    timing       event times ≥ 0, ordered, on the hop grid               robustness.py

``levels.py`` says what each strictness (1…10) runs; ``runner.py`` builds the subjects and the report
(``runner.validate``, ``runner.format_table``). Nothing is imported here, so that building the
command line (``cli/validate.py``) costs no engine import.
"""
