"""Cloud adapters: the one `openstack` runner, typed operations, discovery, and one module per resource."""
