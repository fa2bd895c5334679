"""Backups: the restic/borg engine, file manifests, retention policy and throwaway PostgreSQL restores."""
