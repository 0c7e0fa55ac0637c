package mapping

// Parameter is one field of a Gateway's effective LoadBalancerParameters:
// the value the model carries and the object it came from. The merge
// itself (mergeParams) records them as it lays the Gateway's parameters
// over the class's, so that what describe shows is what the controller
// applied, not a second reading of the same objects.
type Parameter struct {
	// Path is the field's path in LoadBalancerParametersSpec, by JSON
	// names: "scheme", "healthCheck.interval", "aws.sslPolicy"; a map
	// entry has its key in brackets ("tags[team]",
	// "aws.attributes[routing.http2.enabled]"), since keys may hold
	// dots. A list (aws.subnets) or accessLogs is replaced as a whole,
	// so it has one source.
	Path string `json:"path"`
	// Value as the parameters wrote it: durations in seconds ("60s"),
	// lists comma-separated.
	Value  string          `json:"value"`
	Source ParameterSource `json:"source"`
}

// SourceKind says where a parameter's value came from.
type SourceKind string

// Sources, from the least specific to the most.
const (
	// SourceDefault: no parameters set the field; the value is the
	// provider's default (lb.Capabilities.ParameterDefaults).
	SourceDefault SourceKind = "default"
	// SourceClass: the GatewayClass's spec.parametersRef.
	SourceClass SourceKind = "GatewayClass"
	// SourceGateway: the Gateway's spec.infrastructure.parametersRef.
	SourceGateway SourceKind = "Gateway"
	// SourceGatewaySpec: the Gateway's own spec (spec.addresses, and the
	// labels and annotations of spec.infrastructure, which become tags).
	SourceGatewaySpec SourceKind = "GatewaySpec"
)

// ParameterSource is the object (and field) a parameter came from.
type ParameterSource struct {
	Kind SourceKind `json:"kind"`
	// Ref is the LoadBalancerParameters' "namespace/name" for SourceClass
	// and SourceGateway, and the Gateway's field for SourceGatewaySpec
	// ("spec.infrastructure.labels"); empty for SourceDefault.
	Ref string `json:"ref,omitempty"`
}

// String says it the way describe prints it: "GatewayClass parametersRef
// infra/defaults", "Gateway spec.addresses", "default".
func (s ParameterSource) String() string {
	switch s.Kind {
	case SourceClass, SourceGateway:
		return string(s.Kind) + " parametersRef " + s.Ref
	case SourceGatewaySpec:
		return "Gateway " + s.Ref
	}
	return string(s.Kind)
}
