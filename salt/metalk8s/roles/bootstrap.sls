# The bootstrap node: serves the repositories and images of every archive, and consumes
# its own repositories like any other node.
include:
  - metalk8s.repo
  - metalk8s.yum

Repositories server ready:
  test.nop:
    - require:
        - sls: metalk8s.repo
    - require_in:
        - file: Configure the MetalK8s yum repositories
