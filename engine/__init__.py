"""Burgernet engine: telephony-first alerting for citizen-participation networks."""
