# Serve the images of the imported Solutions (solutions.sh import / unimport): the
# registry configuration of each Solution is part of metalk8s.repo.
include:
  - metalk8s.repo
