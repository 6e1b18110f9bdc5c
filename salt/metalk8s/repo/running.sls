{%- from "metalk8s/map.jinja" import repo with context %}
{%- if repo.listen_address in ["0.0.0.0", "*", "[::]"] %}
  {%- set probe_host = "127.0.0.1" %}
{%- else %}
  {%- set probe_host = repo.listen_address %}
{%- endif %}

include:
  - .configured

Run nginx:
  service.running:
    - name: {{ repo.nginx.service }}
    - enable: true
    - reload: true
    - watch:
        - cmd: Check the nginx configuration
    - require:
        - cmd: Check the nginx configuration

Wait for the repositories to answer:
  http.wait_for_successful_query:
    - name: http://{{ probe_host }}:{{ repo.port }}/v2/
    - status: 200
    - wait_for: 30
    - request_interval: 1
    - require:
        - service: Run nginx
