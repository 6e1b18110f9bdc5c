# Serve the package repositories and container images of every mounted archive with nginx.
include:
  - .installed
  - .configured
  - .running
