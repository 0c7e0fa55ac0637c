// Command incluster is the container of the local cluster's in-cluster test:
// it does what a controller in a Pod does first (rest.InClusterConfig from the
// fixed paths, then API calls as its ServiceAccount) and prints one JSON
// report of what worked, what was refused and what it runs as, for the test
// to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Report is what the test reads; errors are strings, empty when the step
// worked.
type Report struct {
	ConfigErr     string
	Host          string
	Namespace     string
	User          string
	BoundPod      []string
	ListConfigMap string
	ListSecrets   string
	SecretsDenied bool
	UID, GID      int
	Status        map[string]string
	WriteRoot     string
	WriteScratch  string
	WriteToken    string
	HostService   string
}

func main() {
	var r Report
	r.UID, r.GID = os.Getuid(), os.Getgid()
	r.Status = status("NoNewPrivs", "CapEff", "CapBnd")
	r.WriteRoot = errText(os.WriteFile("written-outside-volumes", []byte("x"), 0o644))
	r.WriteScratch = errText(os.WriteFile("/scratch/written", []byte("x"), 0o644))
	r.WriteToken = errText(os.WriteFile("/var/run/secrets/kubernetes.io/serviceaccount/written", []byte("x"), 0o644))
	if url := os.Getenv("HOST_SERVICE"); url != "" {
		r.HostService = get(url)
	}
	if ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		r.Namespace = string(ns)
	}

	cfg, err := rest.InClusterConfig()
	if err != nil {
		r.ConfigErr = err.Error()
		emit(r)
		return
	}
	r.Host = cfg.Host
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		r.ConfigErr = err.Error()
		emit(r)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err == nil {
		r.User = review.Status.UserInfo.Username
		r.BoundPod = review.Status.UserInfo.Extra["authentication.kubernetes.io/pod-name"]
	} else {
		r.User = "error: " + err.Error()
	}
	_, err = client.CoreV1().ConfigMaps(r.Namespace).List(ctx, metav1.ListOptions{})
	r.ListConfigMap = errText(err)
	_, err = client.CoreV1().Secrets(r.Namespace).List(ctx, metav1.ListOptions{})
	r.ListSecrets, r.SecretsDenied = errText(err), apierrors.IsForbidden(err)
	emit(r)
}

func emit(r Report) {
	data, _ := json.Marshal(r)
	fmt.Println("REPORT " + string(data))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func get(url string) string {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// status reads fields of /proc/self/status.
func status(fields ...string) map[string]string {
	out := map[string]string{}
	data, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		for _, f := range fields {
			if ok && k == f {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
