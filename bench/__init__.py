"""Benchmarks of the product (``python manage.py bench SUITE``), kept out of it.

Only ``bench.settings`` installs this app; nothing in ``eventstore``,
``orders``, ``projections`` or ``config`` imports it.
"""
