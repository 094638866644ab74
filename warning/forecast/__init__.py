"""Forecasts: weekly trend forecasts, legal-status forecasts, the dispute-prone field index."""
