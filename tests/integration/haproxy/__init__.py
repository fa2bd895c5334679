"""HAProxy from the catalog, run for real: balancing, sticky sessions and health-check failover.

Needs the ``haproxy`` binary (Debian package ``haproxy``); run with ``-s`` to see the measured figures.
"""
