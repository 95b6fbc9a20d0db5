"""Bridges from agent frameworks to the gateway. Each is an optional extra, imported only by the
code that uses it: nothing under chat/ imports these modules."""
