package reconciler

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BackendTLSPolicies: a Gateway's reconcile reads those in its backends'
// namespaces (all of them, so that mapping decides precedence among every
// policy of a target), with their CA ConfigMaps and Secrets read uncached
// as the listeners' are, and writes each policy's ancestor entry for the
// Gateway. Other ancestors' entries (other Gateways', other controllers')
// are never touched.

const (
	// indexPolicyService: BackendTLSPolicy by "namespace/name" of each
	// Service its targetRefs name.
	indexPolicyService = "cloudgate.policyService"
	// indexPolicyConfigMap and indexPolicySecret: BackendTLSPolicy by
	// "namespace/name" of each ConfigMap (Secret) its caCertificateRefs
	// name.
	indexPolicyConfigMap = "cloudgate.policyConfigMap"
	indexPolicySecret    = "cloudgate.policySecret"
)

// maxPolicyAncestors is the CRD's bound on status.ancestors.
const maxPolicyAncestors = 16

func policyIndexes() []fieldIndex {
	return []fieldIndex{
		{&gwv1.BackendTLSPolicy{}, indexPolicyService, policyServiceKeys},
		{&gwv1.BackendTLSPolicy{}, indexPolicyConfigMap, func(o client.Object) []string { return policyCAKeys(o, "ConfigMap") }},
		{&gwv1.BackendTLSPolicy{}, indexPolicySecret, func(o client.Object) []string { return policyCAKeys(o, "Secret") }},
	}
}

func policyServiceKeys(o client.Object) []string {
	p := o.(*gwv1.BackendTLSPolicy)
	var out []string
	for _, t := range p.Spec.TargetRefs {
		if t.Group == "" && t.Kind == "Service" {
			out = append(out, p.Namespace+"/"+string(t.Name))
		}
	}
	return out
}

// policyCAKeys names the objects of kind (ConfigMap or Secret) the
// policy's caCertificateRefs name, in its own namespace.
func policyCAKeys(o client.Object, kind string) []string {
	p := o.(*gwv1.BackendTLSPolicy)
	var out []string
	for _, ref := range p.Spec.Validation.CACertificateRefs {
		if ref.Group == "" && string(ref.Kind) == kind {
			out = append(out, p.Namespace+"/"+string(ref.Name))
		}
	}
	return out
}

// gatewayBackendSecretKey names the Secret of the Gateway's
// spec.tls.backend client certificate, if any.
func gatewayBackendSecretKey(gw *gwv1.Gateway) (string, bool) {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Backend == nil || gw.Spec.TLS.Backend.ClientCertificateRef == nil {
		return "", false
	}
	ref := gw.Spec.TLS.Backend.ClientCertificateRef
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
		return "", false
	}
	ns := gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns + "/" + string(ref.Name), true
}

// forPolicy enqueues the Gateways whose routes use a Service the policy
// targets, and those its status names (which may no longer use it, and
// must remove their entries).
func (e enqueuer) forPolicy(ctx context.Context, o client.Object) []reconcile.Request {
	out := map[types.NamespacedName]bool{}
	for _, svc := range policyServiceKeys(o) {
		e.gatewaysOfRoutes(ctx, []client.ListOption{client.MatchingFields{indexRouteService: svc}}, out)
	}
	if p, ok := o.(*gwv1.BackendTLSPolicy); ok {
		for _, a := range p.Status.Ancestors {
			if a.AncestorRef.Group != nil && *a.AncestorRef.Group != gwv1.GroupName || a.AncestorRef.Kind != nil && *a.AncestorRef.Kind != "Gateway" {
				continue
			}
			ns := p.Namespace
			if a.AncestorRef.Namespace != nil {
				ns = string(*a.AncestorRef.Namespace)
			}
			out[types.NamespacedName{Namespace: ns, Name: string(a.AncestorRef.Name)}] = true
		}
	}
	return requests(out)
}

// gatewaysOfPolicies adds the Gateways of the policies an index value
// finds (a CA ConfigMap or Secret that changed).
func (e enqueuer) gatewaysOfPolicies(ctx context.Context, field, value string, into map[types.NamespacedName]bool) {
	var list gwv1.BackendTLSPolicyList
	if err := e.c.List(ctx, &list, client.MatchingFields{field: value}); err != nil {
		log.FromContext(ctx).Error(err, "Listing BackendTLSPolicies by index", "index", field)
		return
	}
	for i := range list.Items {
		for _, r := range e.forPolicy(ctx, &list.Items[i]) {
			into[r.NamespacedName] = true
		}
	}
}

// loadPolicies adds to the snapshot the BackendTLSPolicies of the backend
// namespaces and the ConfigMaps and Secrets their CA references name.
func loadPolicies(ctx context.Context, c client.Reader, namespaces map[string]bool) (policies []*gwv1.BackendTLSPolicy, configMaps, secrets []string, err error) {
	for ns := range namespaces {
		var list gwv1.BackendTLSPolicyList
		// Only read, as loadSnapshot's other Lists.
		if err := c.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			return nil, nil, nil, err
		}
		for i := range list.Items {
			p := &list.Items[i]
			policies = append(policies, p)
			configMaps = append(configMaps, policyCAKeys(p, "ConfigMap")...)
			secrets = append(secrets, policyCAKeys(p, "Secret")...)
		}
	}
	return policies, configMaps, secrets, nil
}

// writePolicyStatuses replaces, on every BackendTLSPolicy in the cache,
// our ancestor entry for the Gateway gwKey with desired's (none when the
// policy has no entry there, or desired is nil, as when the Gateway goes
// away). Policies that hold no entry of ours and get none are not
// written.
func (r *GatewayReconciler) writePolicyStatuses(ctx context.Context, gwKey types.NamespacedName, desired map[types.NamespacedName]gwv1.PolicyAncestorStatus) error {
	// The cache's objects, not copies of every policy of the cluster at
	// each reconcile: nextPolicyStatus copies the one it changes.
	var list gwv1.BackendTLSPolicyList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		p := &list.Items[i]
		want, has := desired[client.ObjectKeyFromObject(p)]
		if !has && !r.hasAncestor(p, gwKey) {
			continue
		}
		var entry *gwv1.PolicyAncestorStatus
		if has {
			entry = &want
		}
		err := writeStatus(ctx, r.Client, r.apiReader(), p, func(cur *gwv1.BackendTLSPolicy) (*gwv1.BackendTLSPolicy, bool) {
			return r.nextPolicyStatus(gwKey, cur, entry)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// hasAncestor says whether the policy's status holds an entry of one of
// our controllers for the Gateway.
func (r *GatewayReconciler) hasAncestor(p *gwv1.BackendTLSPolicy, gwKey types.NamespacedName) bool {
	for _, a := range p.Status.Ancestors {
		if r.Providers[a.ControllerName] != nil && parentIs(a.AncestorRef, p.Namespace, gwKey) {
			return true
		}
	}
	return false
}

// nextPolicyStatus returns the policy with our entry for gwKey replaced
// by want (removed when nil), keeping every other entry where it is, and
// whether that changed anything.
func (r *GatewayReconciler) nextPolicyStatus(gwKey types.NamespacedName, cur *gwv1.BackendTLSPolicy, want *gwv1.PolicyAncestorStatus) (*gwv1.BackendTLSPolicy, bool) {
	next := cur.DeepCopy()
	var old []metav1.Condition
	ancestors := make([]gwv1.PolicyAncestorStatus, 0, len(cur.Status.Ancestors)+1)
	placed := false
	for _, a := range cur.Status.Ancestors {
		if r.Providers[a.ControllerName] == nil || !parentIs(a.AncestorRef, cur.Namespace, gwKey) {
			ancestors = append(ancestors, a)
			continue
		}
		old = a.Conditions
		if want != nil && !placed {
			// In the place of the old entry, so that nothing moves.
			ancestors = append(ancestors, *want)
			placed = true
		}
	}
	if want != nil && !placed && len(ancestors) < maxPolicyAncestors {
		ancestors = append(ancestors, *want)
		placed = true
	}
	if placed {
		for i := range ancestors {
			if ancestors[i].ControllerName == want.ControllerName && parentIs(ancestors[i].AncestorRef, cur.Namespace, gwKey) {
				ancestors[i].Conditions = mergeConditions(old, boundConditions(want.Conditions), metav1.Now())
				// Conditions of types no longer given (ours only: the
				// entry is ours) go.
				ancestors[i].Conditions = keepTypes(ancestors[i].Conditions, want.Conditions)
			}
		}
	}
	next.Status.Ancestors = ancestors
	if equality.Semantic.DeepEqual(cur.Status, next.Status) {
		return nil, false
	}
	return next, true
}

// keepTypes keeps the conditions of merged whose types desired has.
func keepTypes(merged, desired []metav1.Condition) []metav1.Condition {
	out := merged[:0:0]
	for _, c := range merged {
		if findCondition(desired, c.Type) != nil {
			out = append(out, c)
		}
	}
	return out
}
