package localcluster

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestSecurityFor(t *testing.T) {
	pod := func(psc *corev1.PodSecurityContext, csc *corev1.SecurityContext) (*corev1.Pod, *corev1.Container) {
		p := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{Name: "c", SecurityContext: csc}}}}
		return p, &p.Spec.Containers[0]
	}
	tests := []struct {
		name      string
		psc       *corev1.PodSecurityContext
		csc       *corev1.SecurityContext
		want      []string // setpriv's options, nil for none
		configErr bool
	}{
		{name: "nothing asked", want: nil},
		{
			name: "the chart's usual context",
			psc:  &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(65532)), FSGroup: new(int64(65532))},
			csc: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			want: []string{"--reuid=65532", "--regid=0", "--groups=65532", "--no-new-privs", "--bounding-set=-all"},
		},
		{
			name: "the container's user wins",
			psc:  &corev1.PodSecurityContext{RunAsUser: new(int64(1)), RunAsGroup: new(int64(2))},
			csc:  &corev1.SecurityContext{RunAsUser: new(int64(3)), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}, Add: []corev1.Capability{"CAP_NET_ADMIN"}}},
			want: []string{"--reuid=3", "--regid=2", "--clear-groups", "--bounding-set=-net_raw,+net_admin"},
		},
		{name: "runAsNonRoot without a user", psc: &corev1.PodSecurityContext{RunAsNonRoot: new(true)}, configErr: true},
		{name: "runAsNonRoot with user 0", csc: &corev1.SecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(0))}, configErr: true},
		{name: "the container lifts the Pod's runAsNonRoot", psc: &corev1.PodSecurityContext{RunAsNonRoot: new(true)}, csc: &corev1.SecurityContext{RunAsNonRoot: new(false)}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c := pod(tt.psc, tt.csc)
			sec, err := securityFor(p, c)
			if _, ok := err.(*configError); ok != tt.configErr {
				t.Fatalf("error %v, want a configError: %v", err, tt.configErr)
			}
			if err != nil {
				return
			}
			argv, err := sec.command([]string{"/bin/prog", "arg"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if !slices.Equal(argv, []string{"/bin/prog", "arg"}) {
					t.Errorf("argv %q, want the program alone", argv)
				}
				return
			}
			want := append(append(append([]string{argv[0]}, tt.want...), "--"), "/bin/prog", "arg")
			if !slices.Equal(argv, want) {
				t.Errorf("argv\n got %q\nwant %q", argv, want)
			}
			if csc := tt.csc; csc != nil && csc.ReadOnlyRootFilesystem != nil && !sec.readOnlyRoot {
				t.Errorf("readOnlyRootFilesystem lost")
			}
		})
	}
}
