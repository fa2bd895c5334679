"""Docker Swarm: the state of deployed stacks."""
