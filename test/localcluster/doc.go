// Package localcluster runs a small but real Kubernetes cluster out of local
// processes, so that workloads that need Pods which really serve (the Gateway
// API conformance suite's echo backends) run on one machine without a
// container engine.
//
// A cluster is etcd and kube-apiserver (from test/controlplane), a
// kube-controller-manager process with only the controllers Deployments,
// Services and namespaces need, and a "process kubelet" that lives in the
// calling Go process. The process kubelet registers one Ready Node, acts as the
// scheduler (it binds every Pending Pod of the default scheduler to that
// Node), and runs each Pod's containers as host processes, each Pod in its own
// network namespace from test/netns, so the Pod IP is a real address in
// 198.18.0.0/16 that this process (and so the controller under test) can
// reach. The EndpointSlice controller then publishes those IPs for Services.
//
// Rules:
//   - Never pretend. An image with no local binary, a volume type or probe
//     that cannot be honoured, or a missing Secret leaves the Pod not Ready
//     with a waiting reason and a message that says why (ImageNotRunnable,
//     CreateContainerConfigError). Status reports what the processes do.
//   - Images are not pulled: Config.Images maps image name prefixes to local
//     binaries, which are the images' entrypoints.
//   - Processes are not chrooted and share the host's filesystem. Secret,
//     ConfigMap and emptyDir volumes are files in a per-Pod directory, and
//     every env value, command word, argument and working directory that
//     starts with a volumeMount's mountPath is rewritten to that directory.
//     This is simpler than a mount namespace with bind mounts, which would
//     have to create the mountPath directories on the host's filesystem, and
//     it covers what the conformance backends do (TLS_SERVER_CERT=/etc/…).
//     A program that opens a hard-coded path under a mountPath will not find
//     it. Volumes are written once, when the Pod starts.
//   - Everything a cluster makes (processes, network namespaces, veth pairs,
//     directories) is removed by Stop, and what a killed run left behind is
//     removed by the next Start.
//
// The process kubelet serves the part of the kubelet API that Pod logs need
// (`kubectl logs`, GetLogs, with since, tail, limit, follow and previous),
// over HTTPS on loopback, where the Node's address and kubelet port send
// kube-apiserver. Each container's combined output is also in a file named by
// Cluster.LogPath.
//
// Not served: exec, attach and port-forward (the kubelet API answers 501),
// liveness and startup probes, init containers, host networking, resource
// limits.
//
// It needs root (network namespaces) and the ip command from iproute2.
package localcluster
