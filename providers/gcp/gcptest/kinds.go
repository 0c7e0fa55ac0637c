package gcptest

import (
	"net/http"
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// collection describes one kind of object: where it lives, what it refers
// to and which methods beyond insert, get, list and delete it has.
type collection struct {
	name string // the URL segment, "urlMaps"
	kind string // "urlMap": the objects' kind is "compute#urlMap"
	// Discovery resource names by scope; "" where the API has no such
	// collection ("regionUrlMaps", "urlMaps").
	regional, global, zonal string
	newObj                  func() proto.Message
	// refs lists what obj refers to, for the existence check on writes
	// and the in-use check on deletes.
	refs func(d *Double, scope string, obj proto.Message) []reference
	// prepare fills server-chosen fields of a new object (an ephemeral
	// address, a defaulted type). It runs before validate.
	prepare func(d *Double, scope string, obj proto.Message) *apiError
	// check is this kind's own rules, on every write.
	check func(d *Double, ref string, obj proto.Message) *apiError
	// present decorates a copy of obj for output (users of an address,
	// an NEG's size, a certificate without its private key).
	present func(d *Double, ref string, obj proto.Message)
	verbs   map[string]verb
	// requireFingerprint refuses updates and patches that carry no
	// fingerprint, as the URL map API does.
	requireFingerprint bool
}

// verb is a method on one object. apply changes a copy of the object
// (the store then validates it, stamps fingerprints and returns an
// Operation); run does everything itself.
type verb struct {
	body  func(scope string) proto.Message
	apply func(d *Double, obj, body proto.Message) *apiError
	run   func(d *Double, req *request, ref string, obj, body proto.Message) ([]byte, *apiError)
}

// reference is one link from an object to another.
type reference struct {
	field string   // for messages: "defaultService"
	link  string   // as written: a URL, a partial URL
	kinds []string // collections the link may point into
}

func (c *collection) in(scope string) bool {
	switch {
	case scope == "global":
		return c.global != ""
	case strings.HasPrefix(scope, "regions/"):
		return c.regional != ""
	default:
		return c.zonal != ""
	}
}

func (c *collection) resourceID(scope string) string {
	switch {
	case scope == "global":
		return c.global
	case strings.HasPrefix(scope, "regions/"):
		return c.regional
	default:
		return c.zonal
	}
}

func (c *collection) allows(v string) bool {
	if c.name == "operations" {
		return v == "get" || v == "wait" || v == "delete"
	}
	switch v {
	case "insert", "get", "list", "delete":
		return true
	}
	_, ok := c.verbs[v]
	return ok
}

var collections = map[string]*collection{}

func register(c *collection) {
	if c.verbs == nil {
		c.verbs = map[string]verb{}
	}
	collections[c.name] = c
}

func init() {
	register(&collection{name: "operations", kind: "operation",
		regional: "regionOperations", global: "globalOperations", zonal: "zoneOperations",
		newObj: func() proto.Message { return &computepb.Operation{} }})

	register(&collection{name: "addresses", kind: "address", regional: "addresses", global: "globalAddresses",
		newObj: func() proto.Message { return &computepb.Address{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			a := obj.(*computepb.Address)
			return optional(reference{field: "subnetwork", link: a.GetSubnetwork(), kinds: []string{"subnetworks"}})
		},
		prepare: prepareAddress,
		check:   checkLabels,
		present: presentAddress,
		verbs:   map[string]verb{"setLabels": setLabelsVerb()},
	})

	register(&collection{name: "forwardingRules", kind: "forwardingRule", regional: "forwardingRules", global: "globalForwardingRules",
		newObj:  func() proto.Message { return &computepb.ForwardingRule{} },
		refs:    forwardingRuleRefs,
		prepare: prepareForwardingRule,
		check:   checkForwardingRule,
		verbs: map[string]verb{
			"setLabels": setLabelsVerb(),
			"setTarget": {
				body: func(string) proto.Message { return &computepb.TargetReference{} },
				apply: func(_ *Double, obj, body proto.Message) *apiError {
					obj.(*computepb.ForwardingRule).Target = proto.String(body.(*computepb.TargetReference).GetTarget())
					return nil
				},
			},
			"patch": patchVerb(func() proto.Message { return &computepb.ForwardingRule{} }, false),
		},
	})

	register(&collection{name: "targetHttpProxies", kind: "targetHttpProxy", regional: "regionTargetHttpProxies", global: "targetHttpProxies",
		newObj: func() proto.Message { return &computepb.TargetHttpProxy{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			return []reference{{field: "urlMap", link: obj.(*computepb.TargetHttpProxy).GetUrlMap(), kinds: []string{"urlMaps"}}}
		},
		verbs: map[string]verb{"setUrlMap": setURLMapVerb(func(obj proto.Message, link string) {
			obj.(*computepb.TargetHttpProxy).UrlMap = proto.String(link)
		})},
	})

	register(&collection{name: "targetHttpsProxies", kind: "targetHttpsProxy", regional: "regionTargetHttpsProxies", global: "targetHttpsProxies",
		newObj: func() proto.Message { return &computepb.TargetHttpsProxy{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			p := obj.(*computepb.TargetHttpsProxy)
			refs := []reference{{field: "urlMap", link: p.GetUrlMap(), kinds: []string{"urlMaps"}}}
			for _, c := range p.GetSslCertificates() {
				refs = append(refs, reference{field: "sslCertificates", link: c, kinds: []string{"sslCertificates"}})
			}
			return refs
		},
		check: func(_ *Double, _ string, obj proto.Message) *apiError {
			if n := len(obj.(*computepb.TargetHttpsProxy).GetSslCertificates()); n == 0 || n > 15 {
				return invalid("Invalid value for field 'resource.sslCertificates': a target HTTPS proxy takes 1 to 15 SSL certificates, not %d", n)
			}
			return nil
		},
		verbs: map[string]verb{
			"setUrlMap": setURLMapVerb(func(obj proto.Message, link string) {
				obj.(*computepb.TargetHttpsProxy).UrlMap = proto.String(link)
			}),
			"setSslCertificates": {
				body: func(scope string) proto.Message {
					if scope == "global" {
						return &computepb.TargetHttpsProxiesSetSslCertificatesRequest{}
					}
					return &computepb.RegionTargetHttpsProxiesSetSslCertificatesRequest{}
				},
				apply: func(_ *Double, obj, body proto.Message) *apiError {
					var certs []string
					switch b := body.(type) {
					case *computepb.TargetHttpsProxiesSetSslCertificatesRequest:
						certs = b.GetSslCertificates()
					case *computepb.RegionTargetHttpsProxiesSetSslCertificatesRequest:
						certs = b.GetSslCertificates()
					}
					obj.(*computepb.TargetHttpsProxy).SslCertificates = certs
					return nil
				},
			},
			"patch": patchVerb(func() proto.Message { return &computepb.TargetHttpsProxy{} }, false),
		},
	})

	register(&collection{name: "targetTcpProxies", kind: "targetTcpProxy", regional: "regionTargetTcpProxies", global: "targetTcpProxies",
		newObj: func() proto.Message { return &computepb.TargetTcpProxy{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			return []reference{{field: "service", link: obj.(*computepb.TargetTcpProxy).GetService(), kinds: []string{"backendServices"}}}
		},
		verbs: map[string]verb{"setBackendService": {
			body: func(string) proto.Message { return &computepb.TargetTcpProxiesSetBackendServiceRequest{} },
			apply: func(_ *Double, obj, body proto.Message) *apiError {
				obj.(*computepb.TargetTcpProxy).Service = proto.String(body.(*computepb.TargetTcpProxiesSetBackendServiceRequest).GetService())
				return nil
			},
		}},
	})

	register(&collection{name: "urlMaps", kind: "urlMap", regional: "regionUrlMaps", global: "urlMaps",
		newObj: func() proto.Message { return &computepb.UrlMap{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			var refs []reference
			for _, s := range stringsNamed(obj, "service", "default_service", "backend_service") {
				refs = append(refs, reference{field: "service", link: s, kinds: []string{"backendServices"}})
			}
			return refs
		},
		check: checkURLMap,
		verbs: map[string]verb{
			"patch":  patchVerb(func() proto.Message { return &computepb.UrlMap{} }, true),
			"update": updateVerb(func() proto.Message { return &computepb.UrlMap{} }, true),
		},
		requireFingerprint: true,
	})

	register(&collection{name: "backendServices", kind: "backendService", regional: "regionBackendServices", global: "backendServices",
		newObj: func() proto.Message { return &computepb.BackendService{} },
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			b := obj.(*computepb.BackendService)
			var refs []reference
			for _, hc := range b.GetHealthChecks() {
				refs = append(refs, reference{field: "healthChecks", link: hc, kinds: []string{"healthChecks"}})
			}
			for _, be := range b.GetBackends() {
				refs = append(refs, reference{field: "backends.group", link: be.GetGroup(), kinds: []string{"networkEndpointGroups"}})
			}
			return refs
		},
		check: checkBackendService,
		verbs: map[string]verb{
			"patch":  patchVerb(func() proto.Message { return &computepb.BackendService{} }, false),
			"update": updateVerb(func() proto.Message { return &computepb.BackendService{} }, false),
		},
	})

	register(&collection{name: "healthChecks", kind: "healthCheck", regional: "regionHealthChecks", global: "healthChecks",
		newObj: func() proto.Message { return &computepb.HealthCheck{} },
		check:  checkHealthCheck,
		verbs: map[string]verb{
			"patch":  patchVerb(func() proto.Message { return &computepb.HealthCheck{} }, false),
			"update": updateVerb(func() proto.Message { return &computepb.HealthCheck{} }, false),
		},
	})

	register(&collection{name: "sslCertificates", kind: "sslCertificate", regional: "regionSslCertificates", global: "sslCertificates",
		newObj:  func() proto.Message { return &computepb.SslCertificate{} },
		prepare: prepareSslCertificate,
		present: func(_ *Double, _ string, obj proto.Message) {
			// The API never returns a private key.
			obj.(*computepb.SslCertificate).PrivateKey = nil
		},
	})

	register(&collection{name: "subnetworks", kind: "subnetwork", regional: "subnetworks",
		newObj: func() proto.Message { return &computepb.Subnetwork{} },
		check: func(_ *Double, _ string, obj proto.Message) *apiError {
			if _, err := netip.ParsePrefix(obj.(*computepb.Subnetwork).GetIpCidrRange()); err != nil {
				return invalid("Invalid value for field 'resource.ipCidrRange': '%s'", obj.(*computepb.Subnetwork).GetIpCidrRange())
			}
			return nil
		},
	})

	register(&collection{name: "networkEndpointGroups", kind: "networkEndpointGroup", zonal: "networkEndpointGroups",
		newObj: func() proto.Message { return &computepb.NetworkEndpointGroup{} },
		prepare: func(_ *Double, _ string, obj proto.Message) *apiError {
			n := obj.(*computepb.NetworkEndpointGroup)
			if n.NetworkEndpointType == nil {
				n.NetworkEndpointType = proto.String("GCE_VM_IP_PORT")
			}
			n.Size = proto.Int32(0)
			return nil
		},
		refs: func(_ *Double, _ string, obj proto.Message) []reference {
			n := obj.(*computepb.NetworkEndpointGroup)
			return optional(reference{field: "subnetwork", link: n.GetSubnetwork(), kinds: []string{"subnetworks"}})
		},
		present: presentNEG,
		verbs:   negVerbs(),
	})
}

// optional drops references whose link is empty.
func optional(refs ...reference) []reference {
	var out []reference
	for _, r := range refs {
		if r.link != "" {
			out = append(out, r)
		}
	}
	return out
}

func setLabelsVerb() verb {
	return verb{
		body: func(scope string) proto.Message {
			if scope == "global" {
				return &computepb.GlobalSetLabelsRequest{}
			}
			return &computepb.RegionSetLabelsRequest{}
		},
		apply: func(_ *Double, obj, body proto.Message) *apiError {
			// setLabels always needs the current label fingerprint.
			if got, want := getString(body, "label_fingerprint"), getString(obj, "label_fingerprint"); got != want {
				return errorf(http.StatusPreconditionFailed, "conditionNotMet",
					"Labels fingerprint either invalid or resource labels have changed")
			}
			setLabels(obj, labelsOf(body))
			return nil
		},
	}
}

func setURLMapVerb(set func(obj proto.Message, link string)) verb {
	return verb{
		body: func(string) proto.Message { return &computepb.UrlMapReference{} },
		apply: func(_ *Double, obj, body proto.Message) *apiError {
			set(obj, body.(*computepb.UrlMapReference).GetUrlMap())
			return nil
		},
	}
}

// checkFingerprint refuses a write whose fingerprint differs from the
// stored one, or that has none where the kind demands one.
func checkFingerprint(obj, body proto.Message, required bool) *apiError {
	got := getString(body, "fingerprint")
	if got == "" && !required {
		return nil
	}
	if got != getString(obj, "fingerprint") {
		return errorf(http.StatusPreconditionFailed, "conditionNotMet",
			"Invalid fingerprint: the resource changed since it was read; read it again and retry")
	}
	return nil
}

func patchVerb(newObj func() proto.Message, requireFingerprint bool) verb {
	return verb{
		body: func(string) proto.Message { return newObj() },
		apply: func(_ *Double, obj, body proto.Message) *apiError {
			if aerr := checkFingerprint(obj, body, requireFingerprint); aerr != nil {
				return aerr
			}
			mergeTopLevel(obj, body)
			return nil
		},
	}
}

func updateVerb(newObj func() proto.Message, requireFingerprint bool) verb {
	return verb{
		body: func(string) proto.Message { return newObj() },
		apply: func(_ *Double, obj, body proto.Message) *apiError {
			if aerr := checkFingerprint(obj, body, requireFingerprint); aerr != nil {
				return aerr
			}
			proto.Reset(obj)
			proto.Merge(obj, body)
			return nil
		},
	}
}
