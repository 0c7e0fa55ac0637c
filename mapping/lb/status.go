package lb

// Status is what a provider reports about a load balancer after Ensure.
type Status struct {
	// Addresses clients use: IPs or hostnames.
	Addresses []Address `json:"addresses,omitempty"`
	// Ready is true once the load balancer has an address and every listener is
	// in place and serving.
	Ready bool `json:"ready"`
	// Listeners reports each listener by Listener.Name.
	Listeners map[string]ListenerStatus `json:"listeners,omitempty"`
	// TargetGroups reports the health of each TargetGroup, by
	// TargetGroup.Name, as the cloud's probes see it. A provider that does
	// not probe targets (the emulated one) leaves it empty, as does one
	// that has not probed a group yet; a group missing here is unknown,
	// not unhealthy.
	TargetGroups map[string]TargetGroupStatus `json:"targetGroups,omitempty"`
	// Message explains Ready=false (for example "provisioning"). It is static so
	// that status does not change while nothing changes.
	Message string `json:"message,omitempty"`
	// Notes say, whether or not it is ready, how the provider realized the
	// model where users would want to know (for example that listeners are
	// split across two load balancers). Static, as Message is; the
	// reconciler adds them to the Gateway's Programmed message.
	Notes []string `json:"notes,omitempty"`
}

// AddressType says what kind of value an Address holds.
type AddressType string

// Address types.
const (
	AddressIP       AddressType = "IPAddress"
	AddressHostname AddressType = "Hostname"
)

// Address is one way to reach the load balancer.
type Address struct {
	Type  AddressType `json:"type"`
	Value string      `json:"value"`
}

// ListenerStatus reports one listener.
type ListenerStatus struct {
	Ready   bool   `json:"ready"`
	Message string `json:"message,omitempty"`
}

// TargetGroupStatus counts a TargetGroup's targets by health. Targets the
// cloud is still probing for the first time, or is draining, count in
// neither. Message is static (a reason such as "no targets", never a
// probe's output), so that status does not change while nothing changes.
type TargetGroupStatus struct {
	Healthy   int    `json:"healthy"`
	Unhealthy int    `json:"unhealthy"`
	Message   string `json:"message,omitempty"`
}
