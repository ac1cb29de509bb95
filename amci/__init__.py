"""AMCI: a faithful stand-in for the Add-on Mart cloud between a billing system and Stripe."""

__version__ = "0.1.0"
