"""The service catalog: its model and checks, and what each consumer derives from it (stacks, deploy plan, backups, metrics, placement)."""
