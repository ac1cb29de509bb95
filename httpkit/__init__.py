"""What both services need to be good HTTP citizens, written once: a header deadline and a clean
process life (``serving``), the log scrubber (``scrub``), and the ``AMCI-Signature`` scheme
(``signature``) AMCI signs its notifications with and the billing client checks.

AMCI and the billing client never import each other (they meet only over HTTP); both import this
small package, which imports neither.
"""
