package gcpfaults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

const (
	project = "faults-project"
	region  = "europe-west1"
)

// startDouble serves a double of project and region, seeded with the
// proxy-only subnet regional load balancers need, until ctx is done.
func startDouble(ctx context.Context, cfg gcptest.Config) (*gcptest.Server, error) {
	cfg.Project, cfg.Region = project, region
	cfg.Subnetworks = []*computepb.Subnetwork{gcptest.ProxyOnlySubnet()}
	return gcptest.Start(ctx, cfg, "127.0.0.1:0")
}

// Kinds of resource, by their collection in the API.
const (
	kindHealthCheck = "healthChecks"
	kindNEG         = "networkEndpointGroups"
	kindBackend     = "backendServices"
	kindURLMap      = "urlMaps"
	kindCert        = "sslCertificates"
	kindHTTPProxy   = "targetHttpProxies"
	kindHTTPSProxy  = "targetHttpsProxies"
	kindAddress     = "addresses"
	kindRule        = "forwardingRules"
	kindSubnet      = "subnetworks"
)

// object is one resource in the double, as the test reads it.
type object struct {
	kind string
	name string
	// owner is the ownership record of its description, nil when it has
	// none.
	owner map[string]string
	msg   proto.Message
	// endpoints of a NEG, "ip:port@instance", sorted.
	endpoints []string
}

// key is "kind gateway-name logical-id", with the Gateway's namespace
// in the logical id written NS, and the namespace and name.
func (o object) key() (key, ns, gw string) {
	ns, gw, _ = strings.Cut(o.owner[lb.TagGateway], "/")
	return fmt.Sprintf("%s %s %s", o.kind, gw, strings.ReplaceAll(o.owner[lb.TagResource], ns+"/", "NS/")), ns, gw
}

func (o object) String() string {
	if o.owner == nil {
		return fmt.Sprintf("%s %s (no ownership record)", o.kind, o.name)
	}
	return fmt.Sprintf("%s %s (%s, %s)", o.kind, o.name, o.owner[lb.TagGateway], o.owner[lb.TagResource])
}

// cloud is everything in one double.
type cloud struct {
	all []object
}

type described interface {
	proto.Message
	GetName() string
	GetDescription() string
	GetSelfLink() string
}

func addAll[T described](c *cloud, d *gcptest.Double, kind string) {
	for _, m := range gcptest.Objects[T](d) {
		o := object{kind: kind, name: m.GetName(), msg: m}
		var rec map[string]string
		if json.Unmarshal([]byte(m.GetDescription()), &rec) == nil && rec[lb.TagCluster] != "" {
			o.owner = rec
		}
		if kind == kindNEG {
			for _, e := range d.NetworkEndpoints(m.GetSelfLink()) {
				inst := e.GetInstance()
				o.endpoints = append(o.endpoints, fmt.Sprintf("%s:%d@%s", e.GetIpAddress(), e.GetPort(), inst[strings.LastIndex(inst, "/")+1:]))
			}
			slices.Sort(o.endpoints)
		}
		c.all = append(c.all, o)
	}
}

// readCloud reads every object of the kinds the provider writes, and the
// subnetworks, straight from the double.
func readCloud(d *gcptest.Double) *cloud {
	c := &cloud{}
	addAll[*computepb.HealthCheck](c, d, kindHealthCheck)
	addAll[*computepb.NetworkEndpointGroup](c, d, kindNEG)
	addAll[*computepb.BackendService](c, d, kindBackend)
	addAll[*computepb.UrlMap](c, d, kindURLMap)
	addAll[*computepb.SslCertificate](c, d, kindCert)
	addAll[*computepb.TargetHttpProxy](c, d, kindHTTPProxy)
	addAll[*computepb.TargetHttpsProxy](c, d, kindHTTPSProxy)
	addAll[*computepb.Address](c, d, kindAddress)
	addAll[*computepb.ForwardingRule](c, d, kindRule)
	addAll[*computepb.Subnetwork](c, d, kindSubnet)
	return c
}

// ours returns the objects that are not the seeded subnetwork, and an
// error for each that has no ownership record of cluster: the provider
// writes nothing else.
func (c *cloud) ours(cluster string) ([]object, error) {
	var out []object
	var errs []error
	for _, o := range c.all {
		if o.kind == kindSubnet && o.name == gcptest.ProxyOnlySubnet().GetName() {
			continue
		}
		if o.owner == nil || o.owner[lb.TagCluster] != cluster || o.owner[lb.TagGatewayUID] == "" || o.owner[lb.TagResource] == "" {
			errs = append(errs, fmt.Errorf("%s has no ownership record of cluster %s", o, cluster))
			continue
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

// summary counts the objects by kind, for the log.
func (c *cloud) summary() string {
	n := map[string]int{}
	eps := 0
	for _, o := range c.all {
		n[o.kind]++
		eps += len(o.endpoints)
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", %d endpoints", eps)
}

// graph is a cloud in a form two runs can be compared in: each of our
// objects by "kind gateway-name logical-id", as JSON in which every name,
// namespace, UID and allocated IP address is replaced by what it stands
// for, and the fields the double fills in (ids, timestamps, fingerprints)
// are gone. Two runs of the same Gateways, in different namespaces with
// different UIDs, have equal graphs when the provider built the same
// thing. A key two objects share is a duplicate: it comes back in dups.
func (c *cloud) graph(cluster string) (g map[string]string, dups []string, err error) {
	objs, err := c.ours(cluster)
	if err != nil {
		return nil, nil, err
	}
	// What each name, UID, namespace and address stands for.
	var repl []string
	names := map[string]string{}
	for _, o := range objs {
		key, ns, gw := o.key()
		if n, ok := names[key]; ok {
			dups = append(dups, fmt.Sprintf("%s: %s and %s", key, n, o.name))
		}
		names[key] = o.name
		repl = append(repl, o.name, "<"+key+">", o.owner[lb.TagGatewayUID], "<uid of "+gw+">", ns+"/", "NS/")
		if a, ok := o.msg.(*computepb.Address); ok {
			repl = append(repl, `"`+a.GetAddress()+`"`, `"<ip of `+gw+`>"`)
		}
	}
	r := strings.NewReplacer(repl...)
	g = map[string]string{}
	for _, o := range objs {
		m := proto.Clone(o.msg)
		// An address's users come in the order of their names, which
		// hash the UID: they are compared as a set.
		var users []string
		if a, ok := m.(*computepb.Address); ok {
			users, a.Users = a.GetUsers(), nil
		}
		for _, f := range []protoreflect.Name{"id", "creation_timestamp", "fingerprint", "label_fingerprint"} {
			if fd := m.ProtoReflect().Descriptor().Fields().ByName(f); fd != nil {
				m.ProtoReflect().Clear(fd)
			}
		}
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
		if err != nil {
			return nil, nil, err
		}
		s := r.Replace(string(b))
		if o.kind == kindNEG {
			s += "\nendpoints: " + strings.Join(o.endpoints, " ")
		}
		if len(users) > 0 {
			for i := range users {
				users[i] = r.Replace(users[i])
			}
			slices.Sort(users)
			s += "\nusers: " + strings.Join(users, " ")
		}
		key, _, _ := o.key()
		g[key] = s
	}
	return g, dups, nil
}

// diffGraphs says how got differs from want, object by object.
func diffGraphs(want, got map[string]string) error {
	var errs []error
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("missing: %s", k))
		case g != want[k]:
			errs = append(errs, fmt.Errorf("%s differs:\n--- fault-free run\n%s\n--- this run\n%s", k, want[k], g))
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			errs = append(errs, fmt.Errorf("extra: %s", k))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
