package gcpfaults

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/test/controlplane"
)

// suite is the control plane every test shares. Tests run one after the
// other: each runs a controller for the gcp controllerName, and two would
// both reconcile every such Gateway.
var suite struct {
	rest       *rest.Config
	kubeconfig string
	c          client.Client
}

// verbose prints the in-process controllers' logs (GCPFAULTS_VERBOSE=1).
var verbose = os.Getenv("GCPFAULTS_VERBOSE") != ""

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	log := logr.Discard()
	if verbose {
		log = zap.New(zap.UseDevMode(true))
	}
	ctrl.SetLogger(log)
	cp, err := controlplane.Start(context.Background(), controlplane.Config{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	scheme, err := reconciler.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.rest, suite.kubeconfig = cp.REST, cp.Kubeconfig
	if suite.c, err = client.New(cp.REST, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
