package localcluster

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// security is what a container's securityContext asks of its process that
// the local cluster honours.
type security struct {
	// uid and gid, when set, are what the process runs as; groups its
	// supplementary groups (the Pod's supplementalGroups and fsGroup).
	uid, gid *int64
	groups   []int64
	// noNewPrivs is allowPrivilegeEscalation: false.
	noNewPrivs bool
	// boundingSet changes the capability bounding set ("-all,+net_bind_service"),
	// in setpriv's syntax; empty leaves it.
	boundingSet  string
	readOnlyRoot bool
}

// securityFor merges the Pod's and the container's securityContext (the
// container's wins) and refuses what a kubelet refuses: runAsNonRoot for a
// process that would run as root. The images here are host binaries with no
// USER of their own, so without runAsUser a process runs as root.
func securityFor(pod *corev1.Pod, c *corev1.Container) (security, error) {
	var s security
	var nonRoot *bool
	if psc := pod.Spec.SecurityContext; psc != nil {
		s.uid, s.gid, nonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
		s.groups = append(s.groups, psc.SupplementalGroups...)
		if psc.FSGroup != nil && !slices.Contains(s.groups, *psc.FSGroup) {
			s.groups = append(s.groups, *psc.FSGroup)
		}
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			s.uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			s.gid = csc.RunAsGroup
		}
		if csc.RunAsNonRoot != nil {
			nonRoot = csc.RunAsNonRoot
		}
		s.noNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
		s.readOnlyRoot = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		if caps := csc.Capabilities; caps != nil {
			s.boundingSet = boundingSet(caps)
		}
	}
	if nonRoot != nil && *nonRoot {
		switch {
		case s.uid == nil:
			return security{}, configErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s): the local cluster's images are host binaries without a USER, so set runAsUser", pod.Name, c.Name)
		case *s.uid == 0:
			return security{}, configErrorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod.Name, c.Name)
		}
	}
	if s.uid != nil && s.gid == nil {
		// A runtime takes the group from the image's /etc/passwd, and 0 when
		// the image does not list the user; these images list nobody.
		s.gid = new(int64)
	}
	return s, nil
}

// boundingSet turns capabilities drop and add into setpriv's syntax. Adds
// matter only to a process that runs as root: the local cluster grants no
// ambient capabilities.
func boundingSet(caps *corev1.Capabilities) string {
	var parts []string
	for _, d := range caps.Drop {
		parts = append(parts, "-"+capName(d))
	}
	if slices.Contains(parts, "-all") {
		parts = []string{"-all"}
	}
	for _, a := range caps.Add {
		if strings.EqualFold(string(a), "ALL") {
			continue
		}
		parts = append(parts, "+"+capName(a))
	}
	return strings.Join(parts, ",")
}

func capName(c corev1.Capability) string {
	return strings.TrimPrefix(strings.ToLower(string(c)), "cap_")
}

// command prefixes argv with the setpriv(1) call that applies s, after the
// mounts (which need root) are made; it returns argv alone when s asks
// nothing.
func (s security) command(argv []string) ([]string, error) {
	var args []string
	if s.uid != nil {
		args = append(args, "--reuid="+strconv.FormatInt(*s.uid, 10), "--regid="+strconv.FormatInt(*s.gid, 10))
		if len(s.groups) == 0 {
			args = append(args, "--clear-groups")
		} else {
			var g []string
			for _, id := range s.groups {
				g = append(g, strconv.FormatInt(id, 10))
			}
			args = append(args, "--groups="+strings.Join(g, ","))
		}
	}
	if s.noNewPrivs {
		args = append(args, "--no-new-privs")
	}
	if s.boundingSet != "" {
		args = append(args, "--bounding-set="+s.boundingSet)
	}
	if len(args) == 0 {
		return argv, nil
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, fmt.Errorf("the container's securityContext needs setpriv (util-linux): %w", err)
	}
	return append(append(append([]string{setpriv}, args...), "--"), argv...), nil
}
