# Point yum at the repositories served by the bootstrap node (metalk8s.repo), for this
# version's packages. Applied on the bootstrap node itself and on every node.
{%- from "metalk8s/map.jinja" import repo, yum, repositories, os_release with context %}
{%- set product_id = saltenv | default("base") %}
{%- set host = salt["pillar.get"]("metalk8s:endpoints:repositories:ip", "127.0.0.1") %}
{%- set port = salt["pillar.get"]("metalk8s:endpoints:repositories:port", repo.port) %}

Configure the MetalK8s yum repositories:
  file.managed:
    - name: {{ yum.repo_file }}
    - source: salt://metalk8s/yum/files/metalk8s.repo.j2
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - context:
        product_id: {{ product_id | tojson }}
        base_url: {{ ("http://" ~ host ~ ":" ~ port ~ "/" ~ product_id ~ "/" ~ os_release) | tojson }}
        repositories: {{ repositories | tojson }}
        os_release: {{ os_release | tojson }}
        gpgcheck: {{ repo.gpgcheck | tojson }}

Remove the repositories of the bootstrap media:
  file.absent:
    - name: {{ yum.media_repo_file }}
    - require:
        - file: Configure the MetalK8s yum repositories

Refresh the yum metadata:
  cmd.run:
    - name: dnf --assumeyes makecache
    - onchanges:
        - file: Configure the MetalK8s yum repositories
        - file: Remove the repositories of the bootstrap media
