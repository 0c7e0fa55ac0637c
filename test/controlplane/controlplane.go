package controlplane

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Config says where the control plane's pieces are.
type Config struct {
	// Root is the Cloudgate source tree; empty means RepoRoot().
	Root string
	// BinDir holds etcd and kube-apiserver; empty means $KUBEBUILDER_ASSETS,
	// else <Root>/bin/k8s.
	BinDir string
	// Progress receives build progress; nil discards it.
	Progress io.Writer
	// ServiceAccountAdmission turns on kube-apiserver's ServiceAccount
	// admission plugin, which envtest turns off: every Pod then gets a
	// ServiceAccount and the projected kube-api-access volume, as in a real
	// cluster, and a Pod whose ServiceAccount does not exist is refused. Only a
	// cluster that runs the serviceaccount controller (test/localcluster) can
	// have it: without one, no namespace gets its "default" ServiceAccount.
	ServiceAccountAdmission bool
}

// ControlPlane is a running etcd and kube-apiserver with the CRDs installed.
type ControlPlane struct {
	env *envtest.Environment
	// REST is an admin client configuration.
	REST *rest.Config
	// Kubeconfig is an admin kubeconfig file for kubectl and other clients.
	Kubeconfig string
	// BinDir is where etcd, kube-apiserver and the other built programs are.
	BinDir string
	dir    string
}

// Start builds the binaries if needed, starts etcd and kube-apiserver, and
// installs the CRDs from deploy/crds.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	if cfg.Root == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		cfg.Root = root
	}
	if cfg.BinDir == "" {
		cfg.BinDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if cfg.BinDir == "" {
		cfg.BinDir = filepath.Join(cfg.Root, "bin", "k8s")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if err := EnsureBinaries(ctx, cfg.Root, cfg.BinDir, cfg.Progress); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: cfg.BinDir,
		CRDDirectoryPaths: []string{
			filepath.Join(cfg.Root, "deploy", "crds"),
			filepath.Join(cfg.Root, "deploy", "crds", "gateway-api"),
		},
		ErrorIfCRDPathMissing: true,
	}
	if cfg.ServiceAccountAdmission {
		env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	}
	restCfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	cp := &ControlPlane{env: env, REST: restCfg, BinDir: cfg.BinDir}
	if err := cp.writeKubeconfig(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

func (c *ControlPlane) writeKubeconfig() error {
	dir, err := os.MkdirTemp("", "cloudgate-kubeconfig-")
	if err != nil {
		return err
	}
	c.dir = dir
	c.Kubeconfig, err = c.AddUser("cloudgate-admin", "system:masters")
	return err
}

// AddUser creates a client certificate for a user in groups and returns the
// path of a kubeconfig file for it, removed by Stop. Other Kubernetes
// components (kube-controller-manager) run with such a kubeconfig.
func (c *ControlPlane) AddUser(name string, groups ...string) (string, error) {
	user, err := c.env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", name, err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, name+".kubeconfig")
	if name == "cloudgate-admin" {
		path = filepath.Join(c.dir, "kubeconfig")
	}
	return path, os.WriteFile(path, data, 0o600)
}

// ServiceAccountSigningKeyFile is the private key kube-apiserver signs
// service account tokens with; kube-controller-manager needs the same key to
// issue tokens the apiserver accepts. envtest generates it in the apiserver's
// certificate directory under a name it does not export, so this checks that
// the file is really there.
func (c *ControlPlane) ServiceAccountSigningKeyFile() (string, error) {
	path := filepath.Join(c.env.ControlPlane.GetAPIServer().CertDir, "sa-signer.key")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("envtest's service account signing key is not where it used to be: %w", err)
	}
	return path, nil
}

// CAFile writes the certificate authority that signed kube-apiserver's
// serving certificate to a file and returns its path.
func (c *ControlPlane) CAFile() (string, error) {
	path := filepath.Join(c.dir, "ca.crt")
	return path, os.WriteFile(path, c.env.ControlPlane.GetAPIServer().SecureServing.CA, 0o644)
}

// TempDirs lists the directories the control plane made (etcd's data,
// the apiserver's certificates, the kubeconfigs); Stop removes them. A
// harness that may be killed records them to remove them on its next run.
func (c *ControlPlane) TempDirs() []string {
	return []string{c.env.ControlPlane.Etcd.DataDir, c.env.ControlPlane.GetAPIServer().CertDir, c.dir}
}

// Stop stops kube-apiserver and etcd and removes their files.
func (c *ControlPlane) Stop() error {
	err := c.env.Stop()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	return err
}
