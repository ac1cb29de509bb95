"""The reference billing client: a small billing system that talks only to AMCI over HTTP."""
