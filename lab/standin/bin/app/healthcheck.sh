#!/bin/sh
# mediastack lab stand-in for Authelia's /app/healthcheck.sh: NOT Authelia. Checks the stand-in's
# /api/health on its portal port, as the real script checks Authelia's. Installed at /app/healthcheck.sh
# (scripts/standin_images.py: the catalog's healthcheck runs that path); the stub's health URL is its route
# port and this path:
# standin-health-path: /api/health
exec /usr/local/bin/standin-healthcheck "$@"
