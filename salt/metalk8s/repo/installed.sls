{%- from "metalk8s/map.jinja" import repo with context %}

Install nginx:
  pkg.installed:
    - name: {{ repo.nginx.package }}
