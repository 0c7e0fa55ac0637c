package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudgate-dev/cloudgate/cmd/internal/manager"
	"github.com/cloudgate-dev/cloudgate/reconciler"
	"github.com/cloudgate-dev/cloudgate/reconciler/describe"
)

// describeCommand is `cloudgate describe gateway [NS/]NAME`: it prints what
// the controller would make of the Gateway, reading the cluster and the
// cloud and writing to neither. It takes the controller's flags (those
// that pick and configure providers matter; the others are accepted, so
// that a deployment's arguments can be pasted, and ignored) and kubectl's
// way of finding the cluster.
func describeCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	var o manager.Options
	o.Bind(fs)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; default $KUBECONFIG, then ~/.kube/config, then the in-cluster configuration")
	kubeContext := fs.String("context", "", "kubeconfig context; default the current one")
	var namespace string
	fs.StringVar(&namespace, "namespace", "", "namespace of a Gateway named without one; default the context's")
	fs.StringVar(&namespace, "n", "", "shorthand for --namespace")
	var output string
	fs.StringVar(&output, "output", "text", "output format: text, json or yaml")
	fs.StringVar(&output, "o", "text", "shorthand for --output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: cloudgate describe gateway [NAMESPACE/]NAME [flags]")
		fs.PrintDefaults()
	}
	// Flags may follow the arguments, as kubectl allows.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 2 || (positional[0] != "gateway" && positional[0] != "gateways" && positional[0] != "gtw") {
		fs.Usage()
		return errors.New("describe takes: gateway [NAMESPACE/]NAME")
	}
	format := describe.Format(output)
	if _, err := (&describe.Report{}).Render(format); err != nil {
		return err
	}
	provs, closeProviders, err := manager.ReadOnlyProviders(ctx, o)
	if err != nil {
		return err
	}
	defer closeProviders()

	// Describe logs nothing itself; what the libraries it uses would log
	// is not for its reader.
	ctrl.SetLogger(logr.Discard())
	var cfg *rest.Config
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: *kubeContext})
	cfg, err = cc.ClientConfig()
	if err != nil {
		return fmt.Errorf("finding the cluster: %w", err)
	}
	key := types.NamespacedName{Name: positional[1]}
	if ns, name, ok := strings.Cut(positional[1], "/"); ok {
		key = types.NamespacedName{Namespace: ns, Name: name}
	} else if key.Namespace = namespace; key.Namespace == "" {
		if key.Namespace, _, err = cc.Namespace(); err != nil {
			return fmt.Errorf("finding the namespace: %w", err)
		}
	}
	if key.Namespace == "" || key.Name == "" {
		return fmt.Errorf("%q is not a Gateway name", positional[1])
	}

	scheme, err := reconciler.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	rep, err := describe.Describe(ctx, describe.Config{Reader: c, ClusterName: o.ClusterName, Providers: provs}, key)
	if err != nil {
		return err
	}
	out, err := rep.Render(format)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, out)
	return err
}
