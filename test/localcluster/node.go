package localcluster

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hostIP is the Node's address. The node is this machine; Pods reach it over
// their veth, and kube-apiserver, on this machine too, dials the kubelet API
// there; loopback is the one address that is always there.
const hostIP = "127.0.0.1"

// heartbeatEvery is how often the Node's Lease is renewed. No node lifecycle
// controller runs, so this is for tools that read it, not for survival.
const heartbeatEvery = 10 * time.Second

// allocatable is generous on purpose: nothing is enforced, and the suite's
// resource requests must never make a Pod unschedulable.
func allocatable() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("64"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("1000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
}

func (k *kubelet) registerNode(ctx context.Context) error {
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, k.node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: k.node,
			Labels: map[string]string{
				corev1.LabelHostname:   k.node,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: "amd64",
			},
		}}, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering node %s: %w", k.node, err)
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	condition := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	node.Status = corev1.NodeStatus{
		Capacity:    allocatable(),
		Allocatable: allocatable(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			condition(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "the process kubelet of the local cluster is running"),
			condition(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "not measured"),
			condition(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "not measured"),
			condition(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "not measured"),
			condition(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "Pods get network namespaces with veth pairs"),
		},
		// No Hostname address: kube-apiserver prefers it for reaching the
		// kubelet (--kubelet-preferred-address-types starts with
		// Hostname), and the node name does not resolve.
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: hostIP},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: k.port}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          "v1.36.3-cloudgate-process-kubelet",
			ContainerRuntimeVersion: "process://local",
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting node %s Ready: %w", k.node, err)
	}
	return k.renewLease(ctx)
}

func (k *kubelet) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
				k.logf("renewing the node lease: %v", err)
			}
		}
	}
}

func (k *kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name: k.node,
				// Owned by the Node, as a kubelet's Lease is, so deleting
				// the Node removes it.
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       &k.node,
				LeaseDurationSeconds: new(int32(40)),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}
