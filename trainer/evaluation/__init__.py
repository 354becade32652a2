"""Metrics and prediction over labelled sets."""
