"""Setting up the repository on the node: the cloud-init script, and following it over SSH."""
