# Pillar of the other nodes: where the repositories of the bootstrap node are.
# metalk8s:endpoints:repositories is given on the command line when a node is configured
# from the bootstrap node (see documentation/installation.md).
metalk8s:
  repo:
    gpgcheck: true
