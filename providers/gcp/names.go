package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// nameScheme versions the naming scheme: a change of scheme changes every
// name, so it must come with a migration (ownership is read from the
// description, which keeps working across schemes).
const nameScheme = "cg1"

// Compute Engine names are RFC 1035 labels: [a-z]([-a-z0-9]*[a-z0-9])?, at
// most 63 characters.
const (
	maxName = 63
	hashLen = 12
)

// Kinds of resource, as the short tag names carry them. Two resources of
// different kinds may share a readable part and a logical id, so the kind
// is in the readable name and in the hash.
const (
	tagAddress     = "ip"
	tagForwarding  = "fr"
	tagHTTPProxy   = "hp"
	tagHTTPSProxy  = "sp"
	tagURLMap      = "um"
	tagBackend     = "bs"
	tagHealthCheck = "hc"
	tagNEG         = "neg"
	tagCertificate = "crt"
	tagTCPProxy    = "tp"
	logicalLB      = "loadbalancer"
	logicalSink    = "sink"
	// logicalTCPSink is the empty TCP backend service of TCP listeners
	// whose every backend is invalid.
	logicalTCPSink = "sink-tcp"
	// readableBudget is what the Gateway's name may take, kind included:
	// three hyphens separate scheme, kind, readable part and hash.
	readableBudget = maxName - len(nameScheme) - hashLen - 3
)

// name is "cg1-<kind>-<readable>-<hash>": lowercase letters, digits and
// hyphens, at most 63 characters, starting with a letter and ending with a
// digit or letter. The hash covers the scheme, the cluster, the owner's
// UID, the kind and every part (the logical id and the fields the cloud
// cannot change in place), so two Gateways, or one re-created Gateway,
// never share a name, and a change of an immutable field is a new name.
// The readable part is the Gateway's name, cut to fit: only the hash makes
// it unique.
func name(o lb.Owner, kind string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(append([]string{nameScheme, o.Cluster, o.UID, kind}, parts...), "\x00")))
	hash := hex.EncodeToString(h[:])[:hashLen]
	budget := readableBudget - len(kind) - 1
	mid := providers.Readable(o.Name, budget)
	if mid == "" {
		return nameScheme + "-" + kind + "-" + hash
	}
	return nameScheme + "-" + kind + "-" + mid + "-" + hash
}

// ownership is what a resource's description holds: the ownership tags of
// providers/doc.go, by their tag keys, and the naming scheme.
type ownership struct {
	Cluster    string `json:"cloudgate.dev/cluster"`
	Gateway    string `json:"cloudgate.dev/gateway"`
	GatewayUID string `json:"cloudgate.dev/gateway-uid"`
	Resource   string `json:"cloudgate.dev/resource"`
	Scheme     string `json:"cloudgate.dev/naming"`
}

// maxDescription is Compute Engine's limit on a description.
const maxDescription = 2048

// description is the JSON ownership record of the resource with the given
// logical id. A logical id too long to fit is cut and hashed: the name
// already tells resources apart, the record only has to be ours.
func description(o lb.Owner, logical string) string {
	rec := ownership{Cluster: o.Cluster, Gateway: o.Key(), GatewayUID: o.UID, Resource: logical, Scheme: nameScheme}
	b, _ := json.Marshal(rec) // a struct of strings always marshals
	if len(b) > maxDescription {
		h := sha256.Sum256([]byte(logical))
		over := len(b) - maxDescription + hashLen + 1
		rec.Resource = logical[:max(len(logical)-over, 0)] + "~" + hex.EncodeToString(h[:])[:hashLen]
		b, _ = json.Marshal(rec)
	}
	return string(b)
}

// ownedBy reads a description back. It returns false for anything that is
// not one of our records, including a record of another cluster's or
// another Gateway's (a Gateway deleted and re-created under the same name
// has a new UID: the old one's resources are not its own).
func ownedBy(desc string, o lb.Owner) (ownership, bool) {
	rec, ok := parseOwnership(desc)
	if !ok || rec.Cluster != o.Cluster || rec.GatewayUID != o.UID || rec.Gateway != o.Key() {
		return ownership{}, false
	}
	return rec, true
}

// parseOwnership reads any of our records, whoever's it is.
func parseOwnership(desc string) (ownership, bool) {
	var rec ownership
	if err := json.Unmarshal([]byte(desc), &rec); err != nil || rec.Scheme == "" {
		return ownership{}, false
	}
	return rec, true
}
