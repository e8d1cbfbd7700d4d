"""chameleon-provision: from a repository to an SSH-ready Chameleon bare-metal node."""

__version__ = "0.1.0"
