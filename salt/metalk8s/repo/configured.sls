{%- from "metalk8s/map.jinja" import repo, archives, solutions with context %}
{%- set include_directory = repo.nginx.include_directory %}

include:
  - .installed

Create the nginx include directories:
  file.directory:
    - names:
        - {{ include_directory }}/archives
        - {{ include_directory }}/solutions
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: true

Configure the repositories server:
  file.managed:
    - name: {{ repo.nginx.server_config }}
    - source: salt://metalk8s/repo/files/repositories-server.conf.j2
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - context:
        listen_address: {{ repo.listen_address | tojson }}
        port: {{ repo.port }}
        include_directory: {{ include_directory | tojson }}
    - require:
        - pkg: Install nginx

Deploy the common registry configuration:
  file.managed:
    - name: {{ include_directory }}/registry-common.inc
    - source: salt://metalk8s/repo/files/metalk8s-registry-common.inc
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - require:
        - file: Create the nginx include directories

{%- for id, path in archives | dictsort %}

Deploy the registry configuration of {{ id }}:
  file.managed:
    - name: {{ include_directory }}/archives/{{ id }}-registry.inc
    - source: salt://metalk8s/repo/files/metalk8s-registry.inc?saltenv={{ id }}
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - require:
        - file: Create the nginx include directories
    - require_in:
        - file: Remove the configuration of unmounted archives

Serve the packages and images of {{ id }}:
  file.managed:
    - name: {{ include_directory }}/archives/{{ id }}.conf
    - source: salt://metalk8s/repo/files/archive.conf.j2
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - context:
        id: {{ id | tojson }}
        path: {{ path | tojson }}
        packages_path: {{ repo.packages_path | tojson }}
        images_path: {{ repo.images_path | tojson }}
        include_directory: {{ include_directory | tojson }}
    - require:
        - file: Deploy the registry configuration of {{ id }}
    - require_in:
        - file: Remove the configuration of unmounted archives
{%- endfor %}

Remove the configuration of unmounted archives:
  file.directory:
    - name: {{ include_directory }}/archives
    - clean: true
    - require:
        - file: Create the nginx include directories

{%- for id, path in solutions | dictsort %}

Serve the images of the Solution {{ id }}:
  file.managed:
    - name: {{ include_directory }}/solutions/{{ id }}.inc
    - source: file://{{ path }}/registry-config.inc.j2
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - backup: false
    - context:
        repository: {{ id | tojson }}
        registry_root: {{ (path ~ "/images/") | tojson }}
    - require:
        - file: Create the nginx include directories
    - require_in:
        - file: Remove the configuration of removed Solutions
{%- endfor %}

Remove the configuration of removed Solutions:
  file.directory:
    - name: {{ include_directory }}/solutions
    - clean: true
    - require:
        - file: Create the nginx include directories

{%- if grains.get("selinux", {}).get("enabled", False) %}

Install the SELinux management tools:
  pkg.installed:
    - name: policycoreutils-python-utils

Allow nginx to listen on the repositories port:
  cmd.run:
    - name: >-
        semanage port --add --type http_port_t --proto tcp {{ repo.port }}
        || semanage port --modify --type http_port_t --proto tcp {{ repo.port }}
    - unless: semanage port --list | grep -Eq '^http_port_t .*\b{{ repo.port }}\b'
    - require:
        - pkg: Install the SELinux management tools
{%- endif %}

Open the repositories port in the firewall:
  cmd.run:
    - name: >-
        firewall-cmd --permanent --add-port={{ repo.port }}/tcp
        && firewall-cmd --reload
    - onlyif: firewall-cmd --state
    - unless: firewall-cmd --permanent --query-port={{ repo.port }}/tcp

Check the nginx configuration:
  cmd.run:
    - name: nginx -t
    - onchanges:
        - file: Configure the repositories server
        - file: Deploy the common registry configuration
        - file: Remove the configuration of unmounted archives
        - file: Remove the configuration of removed Solutions
{%- for id, path in archives | dictsort %}
        - file: Serve the packages and images of {{ id }}
        - file: Deploy the registry configuration of {{ id }}
{%- endfor %}
{%- for id, path in solutions | dictsort %}
        - file: Serve the images of the Solution {{ id }}
{%- endfor %}
