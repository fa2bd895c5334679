#!/bin/sh
# mediastack lab stand-in for Authelia's /app/healthcheck.sh: NOT Authelia. Checks the stand-in's
# /api/health on its portal port, as the real script checks Authelia's.
exec /usr/local/bin/standin-healthcheck "$@"
