package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// controllers are the kube-controller-manager controllers the cluster runs:
// what Deployments, Services and namespace deletion need, the service
// account controllers so that namespaces get their "default" ServiceAccount
// as in a real cluster, and the root CA publisher, whose kube-root-ca.crt
// ConfigMap in every namespace is the ca.crt of each Pod's kube-api-access
// volume. Node lifecycle, scheduling-related and cloud
// controllers are left out: the process kubelet is the only node and the
// scheduler.
var controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"endpointslice-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
}

// rootCAConfigMap is the ConfigMap the root CA publisher keeps in every
// namespace.
const rootCAConfigMap = "kube-root-ca.crt"

// controllerManager is a kube-controller-manager process.
type controllerManager struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error // set before exited closes
}

func startControllerManager(ctx context.Context, cp *controlplane.ControlPlane, logPath string) (*controllerManager, error) {
	// system:masters keeps RBAC out of the way: this process runs every
	// controller under one identity (--use-service-account-credentials=false).
	kubeconfig, err := cp.AddUser("system:kube-controller-manager", "system:masters")
	if err != nil {
		return nil, err
	}
	saKey, err := cp.ServiceAccountSigningKeyFile()
	if err != nil {
		return nil, err
	}
	caFile, err := cp.CAFile()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(cp.BinDir, "kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		"--service-account-private-key-file="+saKey,
		"--root-ca-file="+caFile,
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		// No serving: nothing scrapes it, and a fixed port would collide
		// between parallel test runs.
		"--secure-port=0",
		"--v=2",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), ownerEnv())
	// Pdeathsig: if this process is killed, kube-controller-manager must not
	// outlive it and keep reconciling against a dead apiserver.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	m := &controllerManager{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	return m, nil
}

// waitWorking waits until the controllers act: the serviceaccount controller
// gives the "default" namespace its ServiceAccount, and the root CA publisher
// its kube-root-ca.crt, soon after they start. A Pod created before either
// would be refused or could not start.
func (m *controllerManager) waitWorking(ctx context.Context, client kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			_, err = client.CoreV1().ConfigMaps("default").Get(ctx, rootCAConfigMap, metav1.GetOptions{})
		}
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			return err
		}
		select {
		case <-m.exited:
			return fmt.Errorf("kube-controller-manager exited (%v):\n%s", m.err, tail(m.logPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("kube-controller-manager did not create the default ServiceAccount and %s in time:\n%s", rootCAConfigMap, tail(m.logPath, 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop asks kube-controller-manager to exit and kills it if it does not.
func (m *controllerManager) stop() error {
	select {
	case <-m.exited:
	default:
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.exited
		}
	}
	var exit *exec.ExitError
	if m.err != nil && !errors.As(m.err, &exit) {
		return m.err
	}
	return nil // it exits non-zero on SIGTERM; that is the stop we asked for
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
