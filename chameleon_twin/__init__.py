"""The Chameleon twin: a local service that the real `openstack` CLI accepts as CHI@UC, CHI@TACC and CHI@NCAR."""
