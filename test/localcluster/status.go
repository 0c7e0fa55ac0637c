package localcluster

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// status computes the Pod's status from what runs. Condition transition
// times carry over from the Pod unless the condition's status changes, and
// times are whole seconds (what the API stores), so an unchanged Pod
// computes an equal status and costs no write.
func (rt *podRuntime) status(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := corev1.PodStatus{
		QOSClass:  pod.Status.QOSClass,
		HostIP:    hostIP,
		HostIPs:   []corev1.HostIP{{IP: hostIP}},
		StartTime: &rt.startTime,
	}
	if rt.podIP != "" {
		s.PodIP = rt.podIP
		s.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
	}

	var running, ready, exited, failed int
	var notReady []string
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		cs := rt.containerStatus(spec)
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			exited++
			if cs.State.Terminated.ExitCode != 0 {
				failed++
			}
		}
		if cs.Ready {
			ready++
		} else {
			notReady = append(notReady, spec.Name)
		}
	}
	n := len(pod.Spec.Containers)
	started := rt.containers != nil
	switch {
	case !started:
		s.Phase = corev1.PodPending
	case exited == n && failed == 0:
		s.Phase = corev1.PodSucceeded
	case exited == n:
		s.Phase = corev1.PodFailed
	default:
		s.Phase = corev1.PodRunning // running, or restarting after a crash
	}

	allReady := ready == n && n > 0
	notReadyMsg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
		if !ok {
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, msg
		}
		c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
		for _, old := range pod.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime, c.LastProbeTime = old.LastTransitionTime, old.LastProbeTime
			}
		}
		return c
	}
	s.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, rt.podIP != "", "", ""),
		cond(corev1.PodInitialized, true, "", ""),
		cond(corev1.PodReady, allReady, "ContainersNotReady", notReadyMsg),
		cond(corev1.ContainersReady, allReady, "ContainersNotReady", notReadyMsg),
		cond(corev1.PodScheduled, true, "", ""),
	}
	if s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed {
		// A finished Pod is not ready, and says so with the reason a
		// kubelet uses.
		s.Conditions[2].Reason, s.Conditions[3].Reason = "PodCompleted", "PodCompleted"
	}
	return s
}

// containerStatus reports one container; rt.mu is held.
func (rt *podRuntime) containerStatus(spec *corev1.Container) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: new(false)}
	var c *container
	for _, x := range rt.containers {
		if x.spec.Name == spec.Name {
			c = x
		}
	}
	if c == nil {
		w := rt.waiting[spec.Name]
		if w == nil {
			w = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		cs.State.Waiting = w
		return cs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.ImageID = c.imageID
	cs.RestartCount = c.restarts
	if c.last != nil {
		cs.LastTerminationState.Terminated = c.last
	}
	switch {
	case !c.startedAt.IsZero():
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt.Truncate(time.Second))}
		cs.ContainerID = containerID(c.pid)
		cs.Ready = c.ready
		cs.Started = new(c.started)
	case c.terminated != nil:
		cs.State.Terminated = c.terminated
		cs.ContainerID = c.terminated.ContainerID
	default:
		cs.State.Waiting = c.waiting
		if c.last != nil {
			cs.ContainerID = c.last.ContainerID
		}
	}
	return cs
}
