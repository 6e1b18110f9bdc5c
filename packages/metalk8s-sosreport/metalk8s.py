# Copyright Scality. Licensed under the Apache License, Version 2.0.
"""sos plugin collecting the state of a MetalK8s node and of its Kubernetes cluster."""

import os

from sos.report.plugins import Plugin, PluginOpt, RedHatPlugin

KUBECONFIG = "/etc/kubernetes/admin.conf"
PROMETHEUS_SELECTOR = "app.kubernetes.io/name=prometheus"


class MetalK8s(Plugin, RedHatPlugin):
    """MetalK8s Kubernetes distribution"""

    short_desc = "MetalK8s Kubernetes distribution"
    plugin_name = "metalk8s"
    profiles = ("container",)
    packages = ("metalk8s-sosreport",)
    files = (KUBECONFIG, "/etc/metalk8s/bootstrap.yaml")

    option_list = [
        PluginOpt("all", default=False,
                  desc="collect resources of every namespace, not only MetalK8s ones"),
        PluginOpt("describe", default=False,
                  desc="also collect 'kubectl describe' of the resources"),
        PluginOpt("podlogs", default=False, desc="collect the logs of every pod"),
        PluginOpt("prometheus-snapshot", default=False,
                  desc="snapshot the Prometheus database (needs the admin API)"),
    ]

    namespaces = (
        "kube-system", "metalk8s-auth", "metalk8s-certs", "metalk8s-ingress",
        "metalk8s-logging", "metalk8s-monitoring", "metalk8s-solutions", "metalk8s-ui",
    )
    resources = (
        "pods", "deployments", "daemonsets", "statefulsets", "services",
        "ingresses", "configmaps", "persistentvolumeclaims", "events",
    )

    def kubectl(self, args):
        return "kubectl --kubeconfig {} {}".format(KUBECONFIG, args)

    def setup(self):
        self.add_copy_spec([
            "/etc/metalk8s",
            "/etc/salt/minion.d",
            "/etc/salt/master.d",
            "/var/log/metalk8s",
            "/var/log/salt",
            "/etc/kubernetes/manifests",
        ])
        self.add_forbidden_path([
            "/etc/kubernetes/pki",
            "/etc/metalk8s/pki",
            "/etc/salt/pki",
        ])
        if not os.path.exists(KUBECONFIG):
            return

        self.add_cmd_output([
            self.kubectl("version"),
            self.kubectl("get nodes -o wide"),
            self.kubectl("get namespaces"),
            self.kubectl("get persistentvolumes -o wide"),
            self.kubectl("get storageclasses"),
            self.kubectl("get volumes.storage.metalk8s.scality.com -o yaml"),
        ], subdir="cluster")

        namespaces = ["--all-namespaces"] if self.get_option("all") else [
            "--namespace " + ns for ns in self.namespaces
        ]
        for selector in namespaces:
            label = selector.split()[-1].lstrip("-")
            for resource in self.resources:
                self.add_cmd_output(
                    self.kubectl("get {} {} -o wide".format(resource, selector)),
                    subdir=os.path.join("resources", label),
                )
                if self.get_option("describe"):
                    self.add_cmd_output(
                        self.kubectl("describe {} {}".format(resource, selector)),
                        subdir=os.path.join("describe", label),
                    )

        if self.get_option("podlogs"):
            self.collect_pod_logs(namespaces)
        if self.get_option("prometheus-snapshot"):
            self.collect_prometheus_snapshot()

    def collect_pod_logs(self, namespaces):
        for selector in namespaces:
            result = self.exec_cmd(self.kubectl(
                "get pods {} -o jsonpath='{{range .items[*]}}"
                "{{.metadata.namespace}} {{.metadata.name}}{{\"\\n\"}}{{end}}'".format(selector)
            ))
            if result["status"] != 0:
                continue
            for line in result["output"].splitlines():
                parts = line.split()
                if len(parts) != 2:
                    continue
                namespace, pod = parts
                self.add_cmd_output(
                    self.kubectl("logs --all-containers --timestamps -n {} {}".format(namespace, pod)),
                    subdir=os.path.join("podlogs", namespace),
                )

    def collect_prometheus_snapshot(self):
        result = self.exec_cmd(self.kubectl(
            "get pods -n metalk8s-monitoring -l {} -o jsonpath='{{.items[0].metadata.name}}'"
            .format(PROMETHEUS_SELECTOR)
        ))
        if result["status"] != 0 or not result["output"].strip():
            self._log_warn("no Prometheus pod found: no snapshot")
            return
        pod = result["output"].strip()
        self.add_cmd_output(
            self.kubectl(
                "exec -n metalk8s-monitoring {} -c prometheus -- "
                "wget -qO- --post-data='' http://localhost:9090/api/v1/admin/tsdb/snapshot"
                .format(pod)
            ),
            suggest_filename="prometheus_snapshot",
        )
