"""Example agents to test with the sandbox (see README: bring your own agent)."""
