"""A pure-Python no-op the compiled event loop calls now and then.

Python runs signal handlers only while it executes bytecode; the Cython loop can run for minutes
without any, so a SIGINT would wait for the end of the run. Entering this function is enough for
the interpreter to raise the pending KeyboardInterrupt (or run a SIGTERM handler) in the loop.
"""


def let_signals_in() -> None:
    """Nothing: the call itself is the point (see the module docstring)."""
