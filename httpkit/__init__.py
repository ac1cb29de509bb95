"""What both services need to be good HTTP citizens, written once: a header deadline and a clean
process life (``serving``), and the log scrubber (``scrub``).

AMCI and the billing client never import each other (they meet only over HTTP); both import this
small package, which imports neither.
"""
