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
}

// ControlPlane is a running etcd and kube-apiserver with the CRDs installed.
type ControlPlane struct {
	env *envtest.Environment
	// REST is an admin client configuration.
	REST *rest.Config
	// Kubeconfig is an admin kubeconfig file for kubectl and other clients.
	Kubeconfig string
	dir        string
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
	restCfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	cp := &ControlPlane{env: env, REST: restCfg}
	if err := cp.writeKubeconfig(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

func (c *ControlPlane) writeKubeconfig() error {
	user, err := c.env.ControlPlane.AddUser(envtest.User{Name: "cloudgate-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding an admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cloudgate-kubeconfig-")
	if err != nil {
		return err
	}
	c.dir = dir
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(c.Kubeconfig, data, 0o600)
}

// Stop stops kube-apiserver and etcd and removes their files.
func (c *ControlPlane) Stop() error {
	err := c.env.Stop()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	return err
}
