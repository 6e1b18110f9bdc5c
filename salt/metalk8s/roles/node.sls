# Any other node: installs its packages from the repositories of the bootstrap node.
include:
  - metalk8s.yum
