# Pillar of the bootstrap node: the nginx server of the repositories and images (its port
# is set with the endpoints in metalk8s/bootstrap.sls).
metalk8s:
  repo:
    listen_address: 0.0.0.0
    gpgcheck: true
