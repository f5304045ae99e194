"""Local pod executor: runs the pods of a Kubernetes API as local processes.

It plays the kubelet of one node for the API emulator (``cephalon_devkit.kube``) in
tests and local mode: it watches pods of chosen namespaces, runs each container's
``command``/``args`` as a process with its ``env`` and volumes, reports status through
the ``/status`` subresource, honours probes, restart policy with CrashLoopBackOff,
graceful deletion and ``activeDeadlineSeconds``, and refuses (``Failed``/
``Unsupported``) what it cannot honour. See ``docs/devkit.md`` (Local pod executor).

Modules: ``executor`` (entry), ``watching``, ``pods`` (one pod's life), ``containers``
(one container), ``processes``, ``probes``, ``volumes``, ``env``, ``status``,
``backoff``, ``admission``, ``events``, ``client``, ``kubeconfig``, ``config``, ``command``,
``types``, ``errors``.
"""

from cephalon_devkit.kubelet.config import KubeletConfig
from cephalon_devkit.kubelet.executor import PodExecutor, open_executor
from cephalon_devkit.kubelet.kubeconfig import Connection, load_kubeconfig

__all__ = ["Connection", "KubeletConfig", "PodExecutor", "load_kubeconfig", "open_executor"]
