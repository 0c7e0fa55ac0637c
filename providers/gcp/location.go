package gcp

import (
	"fmt"
	"strconv"
	"strings"
)

// location is where the adapter puts a load balancer's resources.
type location struct {
	Project string
	Region  string
	// Zone holds the network endpoint group of targets whose
	// EndpointSlice reports no zone (each other target goes to a NEG in
	// its own zone).
	Zone string
	// Network and Subnetwork are the VPC of the forwarding rules and of
	// the endpoints (paths such as "projects/p/global/networks/default").
	Network    string
	Subnetwork string
}

// Paths of references, relative to the API root. Compute Engine accepts
// them in requests and answers with full URLs, which observe cuts back to
// this form (relative), so that desired and observed compare as equal.
func (l location) regional(collection, name string) string {
	return fmt.Sprintf("projects/%s/regions/%s/%s/%s", l.Project, l.Region, collection, name)
}

func (l location) zonal(collection, name string) string {
	return fmt.Sprintf("projects/%s/zones/%s/%s/%s", l.Project, l.Zone, collection, name)
}

// relative cuts a Compute Engine URL to its path from "projects/" on; any
// other string is returned as it is.
func relative(s string) string {
	if strings.HasPrefix(s, "projects/") {
		return s
	}
	if i := strings.Index(s, "/projects/"); i >= 0 && strings.Contains(s[:i], "://") {
		return s[i+1:]
	}
	return s
}

// lastSegment is the name at the end of a resource path.
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

func itoa(n int32) string { return strconv.Itoa(int(n)) }
