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
//   - Processes are not chrooted: they see the host's filesystem, with the
//     Pod's volumes over it. Each container runs in a mount namespace of its
//     own (`ip netns exec` makes one, with every mount a slave of the
//     host's, so nothing mounted there reaches the host) where a shell
//     bind-mounts each volumeMount's directory at its mountPath before it
//     execs the program. A program that opens a fixed path
//     (rest.InClusterConfig's /var/run/secrets/kubernetes.io/serviceaccount)
//     finds the file there. Mount points missing on the host are created
//     and removed again when the last Pod that needs them is gone (or by the
//     next Start after a killed run); only what the cluster created is
//     removed, and only when empty.
//   - Volumes: secret, configMap, emptyDir, downwardAPI (fieldRef), and
//     projected volumes of those plus serviceAccountToken, with items,
//     defaultMode and fsGroup. Secret and ConfigMap contents are written
//     once, when the Pod starts.
//   - ServiceAccounts work as in a real cluster: kube-apiserver runs the
//     ServiceAccount admission plugin (envtest turns it off; a Pod whose
//     ServiceAccount does not exist is refused) and adds the kube-api-access
//     volume; kube-controller-manager creates each namespace's "default"
//     ServiceAccount and kube-root-ca.crt. A serviceAccountToken source is a
//     TokenRequest for the Pod's ServiceAccount, bound to the Pod, with the
//     source's audience and expirationSeconds; the token file is replaced
//     (atomically) 80% into the token's lifetime, as a kubelet does. RBAC
//     applies to the token as to any client.
//   - kube-apiserver is reached from inside every Pod at the address its
//     serving certificate names, 127.0.0.1:<its port>: the process kubelet
//     listens there on the Pod's own loopback and copies each connection to
//     the host's, so TLS is end to end. KUBERNETES_SERVICE_HOST,
//     KUBERNETES_SERVICE_PORT (and _PORT_HTTPS, KUBERNETES_PORT) say so;
//     the per-Service {SVC}_SERVICE_HOST variables are not set.
//     Config.HostForwards adds more host loopback addresses reached the same
//     way.
//   - hostNetwork Pods run in the host's network namespace (still each
//     container in a mount namespace of its own), with the Node's address,
//     127.0.0.1, as Pod IP. Their ports are the host's, so two replicas that
//     listen on one port collide, as on a real Node; and Kubernetes refuses
//     loopback addresses in EndpointSlices, so a Service cannot select them.
//     Without a readiness probe, such a container is Ready once a socket it
//     holds listens.
//   - securityContext: runAsUser, runAsGroup, supplementalGroups and fsGroup
//     (setpriv after the mounts; the image's binary must be executable by
//     that user), runAsNonRoot (a container that would run as root is
//     CreateContainerConfigError; these images have no USER, so runAsNonRoot
//     needs runAsUser), allowPrivilegeEscalation false (no_new_privs),
//     capabilities drop and add (the bounding set; adds reach only a root
//     process) and readOnlyRootFilesystem (the root mount read-only in the
//     container's mount namespace; volumes stay writable unless their
//     volumeMount is readOnly, and other host mounts such as /dev/shm stay
//     writable). Not applied: seccompProfile (no filter is loaded, whatever
//     the profile), SELinux and AppArmor options, privileged (a root process
//     has every capability anyway).
//   - Probes: readiness, liveness and startup, with httpGet, tcpSocket and
//     exec (run inside the container's namespaces, as its user). A liveness
//     or startup probe that fails failureThreshold times kills the container
//     (SIGTERM, then SIGKILL after the Pod's terminationGracePeriodSeconds)
//     and the restart policy decides what follows. A container without a
//     readiness probe is Ready once it listens on a TCP port (the
//     forwarders' sockets do not count) or after two seconds.
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
// init containers, resource requests and limits (ignored),
// topology (one Node satisfies every spread constraint), a workingDir that
// does not exist (the container fails to start), and other volume types.
//
// It needs root (network and mount namespaces), the ip command from
// iproute2, and sh, mount, setpriv and nsenter from util-linux.
package localcluster
