package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
)

// nameScheme versions the naming scheme: a change of scheme changes every
// name, so it must come with a migration (find by tags, which never change).
const nameScheme = "cg1"

// maxName is ELBv2's limit for load balancer and target group names.
const maxName = 32

// name is "cg1-<readable>-<hash>": at most 32 characters of letters, digits
// and hyphens, never starting or ending with a hyphen (nor "internal-").
// The hash covers the cluster, the owner's UID and every part, so two
// Gateways (or one re-created Gateway) never share a name.
func name(o lb.Owner, readable string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(append([]string{nameScheme, o.Cluster, o.UID}, parts...), "\x00")))
	hash := hex.EncodeToString(h[:])[:10]
	budget := maxName - len(nameScheme) - len(hash) - 2
	mid := providers.Readable(readable, budget)
	if mid == "" {
		return nameScheme + "-" + hash
	}
	return nameScheme + "-" + mid + "-" + hash
}

func lbName(o lb.Owner) string { return name(o, o.Name, "loadbalancer") }

// tgName covers the protocol, which a target group cannot change: a new
// protocol is a new group (created first, the old one deleted last).
func tgName(o lb.Owner, tg lb.TargetGroup) string {
	readable := tg.Name
	if i := strings.LastIndex(readable, "/"); i >= 0 {
		readable = readable[i+1:]
	}
	return name(o, readable, "targetgroup", tg.Name, string(tg.Protocol))
}

// Resource logical ids (the cloudgate.dev/resource tag).
const logicalLB = "loadbalancer"

func ruleLogical(listener, rule string) string { return listener + "/" + rule }

// defaultRuleLogical is the VirtualHost's catch-all 404 rule. Tag values
// cannot hold "*", hence the "_".
func defaultRuleLogical(listener, host string) string {
	if host == "" {
		host = "any"
	}
	return listener + "/default:" + strings.ReplaceAll(host, "*", "_")
}

// AWS tag rules.
const (
	maxTags        = 50
	maxTagKey      = 128
	maxTagValue    = 256
	reservedPrefix = "aws:"
)

// tagChars are the characters AWS allows in tag keys and values: letters,
// digits and spaces of any script, and _ . : / = + - @.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// checkTags refuses user tags AWS would refuse, before anything is
// written, naming each tag at fault (in key order, so that the message of
// a configuration that stays wrong stays the same). Lengths count
// characters, as AWS does, not bytes.
func checkTags(m *lb.LoadBalancer) error {
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
		v := m.Tags[k]
		switch {
		case k == "":
			problems = append(problems, "empty tag key")
		case utf8.RuneCountInString(k) > maxTagKey:
			problems = append(problems, fmt.Sprintf("tag key %.20q… longer than %d characters", k, maxTagKey))
		case strings.HasPrefix(strings.ToLower(k), reservedPrefix):
			problems = append(problems, fmt.Sprintf("tag key %q uses the reserved prefix %q", k, reservedPrefix))
		case !tagChars.MatchString(k):
			problems = append(problems, fmt.Sprintf("tag key %q: AWS allows letters, digits, spaces and _ . : / = + - @ only", k))
		}
		switch {
		case utf8.RuneCountInString(v) > maxTagValue:
			problems = append(problems, fmt.Sprintf("tag %q: value longer than %d characters", k, maxTagValue))
		case !tagChars.MatchString(v):
			problems = append(problems, fmt.Sprintf("tag %q: value %q: AWS allows letters, digits, spaces and _ . : / = + - @ only", k, v))
		}
	}
	if n := len(m.AllTags("x")); n > maxTags {
		problems = append(problems, fmt.Sprintf("%d tags with Cloudgate's own, AWS allows %d", n, maxTags))
	} else if n == maxTags && hasPEM(m) {
		problems = append(problems, fmt.Sprintf("%d tags with Cloudgate's own and an imported certificate's fingerprint, ACM allows %d", n+1, maxTags))
	}
	if len(problems) > 0 {
		return &providers.InvalidError{Message: "tags: " + strings.Join(problems, "; ")}
	}
	return nil
}

// resourceTag keeps a logical id within AWS's 256 characters.
func resourceTag(logical string) string {
	if len(logical) <= maxTagValue {
		return logical
	}
	h := sha256.Sum256([]byte(logical))
	return logical[:maxTagValue-17] + "~" + hex.EncodeToString(h[:8])
}

// hasPEM reports whether m has a certificate to import into ACM.
func hasPEM(m *lb.LoadBalancer) bool {
	for _, l := range m.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, c := range vh.Certificates {
				if c.Ref == nil {
					return true
				}
			}
		}
		for _, st := range l.Streams {
			for _, c := range st.Certificates {
				if c.Ref == nil {
					return true
				}
			}
		}
	}
	return false
}
