package describe

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/cloudgate-dev/cloudgate/mapping"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/reconciler"
)

// Config is what Gateway needs besides the Gateway's name.
type Config struct {
	// Reader reads the cluster, uncached: the API server.
	Reader client.Reader
	// ClusterName is the controller's --cluster-name: the cloud resources
	// are found by the ownership tags it goes into.
	ClusterName string
	// Providers are the enabled providers; the Gateway's class picks one
	// by its controllerName.
	Providers []providers.Provider
}

// Report is what describe knows of one Gateway. Its JSON (and YAML) form is
// for scripts; String is for people.
type Report struct {
	Gateway    Gateway             `json:"gateway"`
	Parameters []mapping.Parameter `json:"parameters,omitempty"`
	Routes     []Route             `json:"routes,omitempty"`
	// Plan is nil when no plan was made (Notes say why).
	Plan *Plan `json:"plan,omitempty"`
	// Resources are the cloud resources the Gateway owns, as the plan found
	// them (those it would create have no id yet and are not listed).
	Resources []Resource `json:"resources,omitempty"`
	// Notes say what describe could not show, and why.
	Notes []string `json:"notes,omitempty"`
}

// Gateway is the Gateway's class, controller and stored status.
type Gateway struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Class      string `json:"class"`
	Controller string `json:"controller,omitempty"`
	// DryRun is the value of the dry-run annotation, empty when absent.
	DryRun     string             `json:"dryRun,omitempty"`
	Addresses  []string           `json:"addresses,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	Listeners  []Listener         `json:"listeners,omitempty"`
}

// Listener is one of the Gateway's listeners with its stored status.
type Listener struct {
	Name           string             `json:"name"`
	Protocol       string             `json:"protocol"`
	Port           int32              `json:"port"`
	Hostname       string             `json:"hostname,omitempty"`
	AttachedRoutes int32              `json:"attachedRoutes"`
	Conditions     []metav1.Condition `json:"conditions,omitempty"`
}

// Route is one route that names the Gateway, with its stored status for
// each of its parentRefs that names the Gateway.
type Route struct {
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Parents   []Parent `json:"parents,omitempty"`
}

// Parent is a route's status for one parentRef.
type Parent struct {
	// SectionName is the listener the parentRef names, empty for all.
	SectionName string             `json:"sectionName,omitempty"`
	Port        int32              `json:"port,omitempty"`
	Conditions  []metav1.Condition `json:"conditions,omitempty"`
}

// Plan is the provider's plan, not applied.
type Plan struct {
	// Summary says it in one line, as a dry run's Event does.
	Summary string `json:"summary"`
	// Text is the printable plan (providers.Plan.Pending).
	Text  string `json:"text"`
	Steps []Step `json:"steps"`
}

// Step is one step of the plan.
type Step struct {
	Action    string   `json:"action"`
	Kind      string   `json:"kind"`
	LogicalID string   `json:"logicalID"`
	CloudID   string   `json:"cloudID,omitempty"`
	Why       string   `json:"why"`
	Diff      []string `json:"diff,omitempty"`
}

// Resource is one cloud resource the Gateway owns.
type Resource struct {
	Kind      string `json:"kind"`
	LogicalID string `json:"logicalID"`
	CloudID   string `json:"cloudID"`
}

// Describe reads the Gateway key and everything it depends on, builds its
// model and asks its provider for the plan. An error means the report
// could not be made at all (the Gateway is missing, the API server or the
// cloud failed); what is merely absent (its class, an enabled provider)
// becomes a note.
func Describe(ctx context.Context, cfg Config, key types.NamespacedName) (*Report, error) {
	var gw gwv1.Gateway
	if err := cfg.Reader.Get(ctx, key, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("gateway %s not found", key)
		}
		return nil, fmt.Errorf("reading gateway %s: %w", key, err)
	}
	rep := &Report{Gateway: gatewayOf(&gw)}

	var gc gwv1.GatewayClass
	if err := cfg.Reader.Get(ctx, client.ObjectKey{Name: string(gw.Spec.GatewayClassName)}, &gc); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading gatewayclass %s: %w", gw.Spec.GatewayClassName, err)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("GatewayClass %s does not exist: no model, no plan", gw.Spec.GatewayClassName))
		return rep, nil
	}
	rep.Gateway.Controller = string(gc.Spec.ControllerName)
	i := slices.IndexFunc(cfg.Providers, func(p providers.Provider) bool { return p.ControllerName() == string(gc.Spec.ControllerName) })
	if i < 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("controller %s is not an enabled provider (--providers): no model, no plan", gc.Spec.ControllerName))
		return rep, nil
	}
	p := cfg.Providers[i]

	snap, err := reconciler.Snapshot(ctx, cfg.Reader, cfg.ClusterName, p, &gc, &gw)
	if err != nil {
		return nil, fmt.Errorf("reading what gateway %s depends on: %w", key, err)
	}
	res := mapping.Build(snap)
	rep.Parameters = res.Parameters
	rep.Routes = routesOf(snap, key)
	if res.LoadBalancer == nil {
		rep.Notes = append(rep.Notes, "the Gateway is not accepted (see its conditions): nothing should exist in the cloud for it, and the controller deletes what does")
		return rep, nil
	}
	if !gw.DeletionTimestamp.IsZero() {
		rep.Notes = append(rep.Notes, "the Gateway is being deleted: the controller deletes its load balancer instead of applying this plan")
	}
	plan, err := p.Plan(ctx, res.LoadBalancer)
	if err != nil {
		return nil, fmt.Errorf("planning gateway %s with %s: %w", key, p.ControllerName(), err)
	}
	rep.Plan = planOf(plan)
	for _, s := range plan.Steps {
		if s.CloudID != "" && s.Action != providers.ActionCreate {
			rep.Resources = append(rep.Resources, Resource{Kind: string(s.Kind), LogicalID: s.LogicalID, CloudID: s.CloudID})
		}
	}
	return rep, nil
}

func gatewayOf(gw *gwv1.Gateway) Gateway {
	out := Gateway{Namespace: gw.Namespace, Name: gw.Name, Class: string(gw.Spec.GatewayClassName),
		DryRun: gw.Annotations[reconciler.DryRunAnnotation], Conditions: gw.Status.Conditions}
	for _, a := range gw.Status.Addresses {
		out.Addresses = append(out.Addresses, a.Value)
	}
	status := map[gwv1.SectionName]gwv1.ListenerStatus{}
	for _, l := range gw.Status.Listeners {
		status[l.Name] = l
	}
	for _, l := range gw.Spec.Listeners {
		st := status[l.Name]
		li := Listener{Name: string(l.Name), Protocol: string(l.Protocol), Port: int32(l.Port),
			AttachedRoutes: st.AttachedRoutes, Conditions: st.Conditions}
		if l.Hostname != nil {
			li.Hostname = string(*l.Hostname)
		}
		out.Listeners = append(out.Listeners, li)
	}
	return out
}

// routesOf lists the snapshot's routes with their stored status for the
// parentRefs that name the Gateway key.
func routesOf(s *mapping.Snapshot, key types.NamespacedName) []Route {
	var out []Route
	add := func(kind string, o client.Object, st gwv1.RouteStatus) {
		r := Route{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}
		for _, ps := range st.Parents {
			ref := ps.ParentRef
			ns := o.GetNamespace()
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			if ns != key.Namespace || string(ref.Name) != key.Name {
				continue
			}
			par := Parent{Conditions: ps.Conditions}
			if ref.SectionName != nil {
				par.SectionName = string(*ref.SectionName)
			}
			if ref.Port != nil {
				par.Port = int32(*ref.Port)
			}
			r.Parents = append(r.Parents, par)
		}
		out = append(out, r)
	}
	for _, r := range s.HTTPRoutes {
		add("HTTPRoute", r, r.Status.RouteStatus)
	}
	for _, r := range s.GRPCRoutes {
		add("GRPCRoute", r, r.Status.RouteStatus)
	}
	for _, r := range s.TLSRoutes {
		add("TLSRoute", r, r.Status.RouteStatus)
	}
	for _, r := range s.TCPRoutes {
		add("TCPRoute", r, r.Status.RouteStatus)
	}
	for _, r := range s.UDPRoutes {
		add("UDPRoute", r, r.Status.RouteStatus)
	}
	return out
}

func planOf(p providers.Plan) *Plan {
	out := &Plan{Summary: p.PendingSummary(), Text: p.Pending(), Steps: []Step{}}
	for _, s := range p.Steps {
		st := Step{Action: string(s.Action), Kind: string(s.Kind), LogicalID: s.LogicalID, CloudID: s.CloudID, Why: s.Why}
		for _, c := range s.Diff {
			st.Diff = append(st.Diff, c.String())
		}
		out.Steps = append(out.Steps, st)
	}
	return out
}
