{#- The bootstrap configuration (/etc/metalk8s/bootstrap.yaml, or the path bootstrap.sh
    recorded in the metalk8s:bootstrap_config grain), as pillar data. #}
{%- set config_path = grains.get("metalk8s", {}).get("bootstrap_config", "/etc/metalk8s/bootstrap.yaml") %}
{%- set config = {} %}
{%- if salt["file.file_exists"](config_path) %}
  {%- set config = salt["slsutil.renderer"](config_path, default_renderer="yaml") %}
{%- endif %}
{%- if config is not mapping %}
  {%- set config = {} %}
{%- endif %}
{%- set networks = config.get("networks", {}) %}
{%- if networks is not mapping %}
  {%- set networks = {} %}
{%- endif %}
{%- set control_plane = networks.get("controlPlane", {}) %}
{%- set workload_plane = networks.get("workloadPlane", {}) %}
{%- set cidr = control_plane.get("cidr", "") if control_plane is mapping else "" %}
{%- if cidr is not string %}
  {%- set cidr = cidr | first %}
{%- endif %}
{%- set addresses = salt["network.ip_addrs"](cidr=cidr) if cidr else [] %}
{%- set repositories_ip = addresses | first if addresses else "127.0.0.1" %}
{#- Port of the repositories server (nginx) on the bootstrap node. #}
{%- set repositories_port = 8080 %}

metalk8s:
  bootstrap_config: {{ config_path | tojson }}
  networks:
    control_plane: {{ control_plane | tojson }}
    workload_plane: {{ workload_plane | tojson }}
  archives: {{ config.get("archives", []) | tojson }}
  ca:
    minion: {{ config.get("ca", {}).get("minion", grains.get("id", "")) | tojson }}
  endpoints:
    repositories:
      ip: {{ repositories_ip | tojson }}
      port: {{ repositories_port }}
  repo:
    port: {{ repositories_port }}
