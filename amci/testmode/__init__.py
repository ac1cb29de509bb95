"""AMCI's embedded Stripe-compatible test-mode server (see docs/testmode.md)."""

from amci.testmode.app import create_app
from amci.testmode.clock import Clock
from amci.testmode.settings import TestmodeSettings

__all__ = ["Clock", "TestmodeSettings", "create_app"]
