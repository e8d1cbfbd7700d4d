"""`provision batch`: many repositories in one invocation, sharing each site's session and catalogs."""
