"""From a repository to a running node: the session, the plan, the run and its cleanup."""
