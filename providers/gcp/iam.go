package gcp

import (
	"maps"
	"slices"
)

// The IAM permissions the provider needs, by the Discovery method id that
// CountCall reports each call by (operationOf). deploy/gcp/cloudgate-role.yaml
// grants exactly their union (iam_test.go holds the two equal), and the
// end-to-end tests check that every method the provider called against the
// Compute Engine double is in this map (test/gcpe2e).
//
// Each method's own permission is the one its REST reference page lists
// under "IAM Permissions"
// (https://cloud.google.com/compute/docs/reference/rest/v1/<resource>/<method>,
// e.g. .../regionUrlMaps/update: compute.regionUrlMaps.update). A write that
// names another resource also needs a permission on what it names, which
// the same pages list on the field ("Authorization requires the following
// IAM permission on the specified resource"): the "use" permissions below.
// An operation's wait is authorized as its get (regionOperations/wait,
// zoneOperations/wait). Names were checked against the list of Compute
// Engine permissions (https://cloud.google.com/iam/docs/permissions-reference):
// SSL certificates have no "use" permission; a proxy that names one needs
// its get.
//
// A create whose body carries labels lists setLabels too: GCP may
// authorize labels set at creation as a setLabels (it does for instances),
// and the role holds setLabels anyway, for label changes.
//
// Internal load balancers (scheme INTERNAL_MANAGED) reserve their address
// in a subnetwork: createInternal, deleteInternal, useInternal and
// subnetworks.use are for them.
var permissions = map[string][]string{
	// Reads: observe lists every collection by owner, reads NEG endpoints,
	// checks the proxy-only subnet, and reads a resource back after a 409.
	"subnetworks.list":                           {"compute.subnetworks.list"},
	"regionHealthChecks.list":                    {"compute.regionHealthChecks.list"},
	"regionHealthChecks.get":                     {"compute.regionHealthChecks.get"},
	"networkEndpointGroups.aggregatedList":       {"compute.networkEndpointGroups.list"},
	"networkEndpointGroups.get":                  {"compute.networkEndpointGroups.get"},
	"networkEndpointGroups.listNetworkEndpoints": {"compute.networkEndpointGroups.get"},
	"regionBackendServices.list":                 {"compute.regionBackendServices.list"},
	"regionBackendServices.get":                  {"compute.regionBackendServices.get"},
	"regionUrlMaps.list":                         {"compute.regionUrlMaps.list"},
	"regionUrlMaps.get":                          {"compute.regionUrlMaps.get"},
	"regionSslCertificates.list":                 {"compute.regionSslCertificates.list"},
	"regionSslCertificates.get":                  {"compute.regionSslCertificates.get"},
	"regionTargetHttpProxies.list":               {"compute.regionTargetHttpProxies.list"},
	"regionTargetHttpProxies.get":                {"compute.regionTargetHttpProxies.get"},
	"regionTargetHttpsProxies.list":              {"compute.regionTargetHttpsProxies.list"},
	"regionTargetHttpsProxies.get":               {"compute.regionTargetHttpsProxies.get"},
	"regionTargetTcpProxies.list":                {"compute.regionTargetTcpProxies.list"},
	"regionTargetTcpProxies.get":                 {"compute.regionTargetTcpProxies.get"},
	"addresses.list":                             {"compute.addresses.list"},
	"addresses.get":                              {"compute.addresses.get"},
	"forwardingRules.list":                       {"compute.forwardingRules.list"},
	"forwardingRules.get":                        {"compute.forwardingRules.get"},
	"regionOperations.wait":                      {"compute.regionOperations.get"},
	"zoneOperations.wait":                        {"compute.zoneOperations.get"},

	// Health checks name nothing.
	"regionHealthChecks.insert": {"compute.regionHealthChecks.create"},
	"regionHealthChecks.update": {"compute.regionHealthChecks.update"},
	"regionHealthChecks.delete": {"compute.regionHealthChecks.delete"},

	// A NEG names its network and subnetwork; each endpoint names the VM
	// instance (the node) that holds its IP, which GCE_VM_IP_PORT
	// endpoints must.
	"networkEndpointGroups.insert":                 {"compute.networkEndpointGroups.create", "compute.networks.use", "compute.subnetworks.use"},
	"networkEndpointGroups.delete":                 {"compute.networkEndpointGroups.delete"},
	"networkEndpointGroups.attachNetworkEndpoints": {"compute.networkEndpointGroups.attachNetworkEndpoints", "compute.instances.use"},
	"networkEndpointGroups.detachNetworkEndpoints": {"compute.networkEndpointGroups.detachNetworkEndpoints", "compute.instances.use"},

	// A backend service names its health check and its NEGs.
	"regionBackendServices.insert": {"compute.regionBackendServices.create", "compute.regionHealthChecks.useReadOnly", "compute.networkEndpointGroups.use"},
	"regionBackendServices.update": {"compute.regionBackendServices.update", "compute.regionHealthChecks.useReadOnly", "compute.networkEndpointGroups.use"},
	"regionBackendServices.delete": {"compute.regionBackendServices.delete"},

	// A URL map names the backend services its rules send to.
	"regionUrlMaps.insert": {"compute.regionUrlMaps.create", "compute.regionBackendServices.use"},
	"regionUrlMaps.update": {"compute.regionUrlMaps.update", "compute.regionBackendServices.use"},
	"regionUrlMaps.delete": {"compute.regionUrlMaps.delete"},

	"regionSslCertificates.insert": {"compute.regionSslCertificates.create"},
	"regionSslCertificates.delete": {"compute.regionSslCertificates.delete"},

	// A proxy names its URL map, an HTTPS proxy its certificates.
	"regionTargetHttpProxies.insert":              {"compute.regionTargetHttpProxies.create", "compute.regionUrlMaps.use"},
	"regionTargetHttpProxies.setUrlMap":           {"compute.regionTargetHttpProxies.setUrlMap", "compute.regionUrlMaps.use"},
	"regionTargetHttpProxies.delete":              {"compute.regionTargetHttpProxies.delete"},
	"regionTargetHttpsProxies.insert":             {"compute.regionTargetHttpsProxies.create", "compute.regionUrlMaps.use", "compute.regionSslCertificates.get"},
	"regionTargetHttpsProxies.setUrlMap":          {"compute.regionTargetHttpsProxies.setUrlMap", "compute.regionUrlMaps.use"},
	"regionTargetHttpsProxies.setSslCertificates": {"compute.regionTargetHttpsProxies.setSslCertificates", "compute.regionSslCertificates.get"},
	"regionTargetHttpsProxies.delete":             {"compute.regionTargetHttpsProxies.delete"},
	// A TCP proxy (a TCP listener's) names its backend service.
	"regionTargetTcpProxies.insert": {"compute.regionTargetTcpProxies.create", "compute.regionBackendServices.use"},
	"regionTargetTcpProxies.delete": {"compute.regionTargetTcpProxies.delete"},

	// An external address names nothing; an internal one its subnetwork.
	"addresses.insert":    {"compute.addresses.create", "compute.addresses.createInternal", "compute.subnetworks.use", "compute.addresses.setLabels"},
	"addresses.setLabels": {"compute.addresses.setLabels"},
	"addresses.delete":    {"compute.addresses.delete", "compute.addresses.deleteInternal"},

	// A forwarding rule names its address, its proxy, its network and (an
	// internal one) its subnetwork.
	"forwardingRules.insert": {"compute.forwardingRules.create", "compute.forwardingRules.setLabels",
		"compute.addresses.use", "compute.addresses.useInternal", "compute.networks.use", "compute.subnetworks.use",
		"compute.regionTargetHttpProxies.use", "compute.regionTargetHttpsProxies.use", "compute.regionTargetTcpProxies.use"},
	"forwardingRules.setTarget": {"compute.forwardingRules.setTarget",
		"compute.regionTargetHttpProxies.use", "compute.regionTargetHttpsProxies.use", "compute.regionTargetTcpProxies.use"},
	"forwardingRules.setLabels": {"compute.forwardingRules.setLabels"},
	"forwardingRules.delete":    {"compute.forwardingRules.delete"},
}

// Permissions returns the IAM permissions a call of method needs (a
// Discovery method id without the "compute." prefix, as CountCall reports
// it), and false for a method the provider is not known to call.
func Permissions(method string) ([]string, bool) {
	p, ok := permissions[method]
	return slices.Clone(p), ok
}

// Methods returns every method Permissions knows, sorted.
func Methods() []string { return slices.Sorted(maps.Keys(permissions)) }

// RolePermissions returns the union of every method's permissions, sorted:
// what deploy/gcp/cloudgate-role.yaml grants.
func RolePermissions() []string {
	var out []string
	for _, ps := range permissions {
		out = append(out, ps...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
