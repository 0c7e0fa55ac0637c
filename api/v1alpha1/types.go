package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoadBalancerParameters configures the cloud load balancers of a GatewayClass
// (through spec.parametersRef) or of one Gateway (through
// spec.infrastructure.parametersRef). A Gateway's parameters override its
// class's field by field; maps merge by key.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=lbp,categories=cloudgate
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Scheme",type=string,JSONPath=`.spec.scheme`
// +kubebuilder:printcolumn:name="IP-Type",type=string,JSONPath=`.spec.ipAddressType`
// +kubebuilder:printcolumn:name="Idle-Timeout",type=string,JSONPath=`.spec.idleTimeout`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LoadBalancerParameters struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LoadBalancerParametersSpec   `json:"spec,omitempty"`
	Status LoadBalancerParametersStatus `json:"status,omitempty"`
}

// LoadBalancerParametersSpec holds common options at the top and
// provider-specific ones in their own sections. Unset fields take the value
// from the GatewayClass's parameters, then the provider's default.
//
// +kubebuilder:validation:XValidation:rule="!has(self.accessLogs) || !self.accessLogs.enabled || (has(self.accessLogs.bucket) && size(self.accessLogs.bucket) > 0)",message="accessLogs.bucket is required when access logs are enabled"
type LoadBalancerParametersSpec struct {
	// Scheme says who can reach the load balancer.
	// +optional
	Scheme *Scheme `json:"scheme,omitempty"`

	// IPAddressType is ipv4 or dualstack.
	// +optional
	// +kubebuilder:validation:Enum=ipv4;dualstack
	IPAddressType *string `json:"ipAddressType,omitempty"`

	// Tags are added to every cloud resource, next to Cloudgate's ownership
	// tags. Keys under cloudgate.dev/ are reserved.
	// +optional
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('cloudgate.dev/'))",message="tag keys with the prefix cloudgate.dev/ are reserved for ownership tags"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 128 && size(self[k]) <= 256)",message="tag keys are at most 128 characters and values at most 256"
	Tags map[string]string `json:"tags,omitempty"`

	// IdleTimeout closes connections idle for longer, between 1s and 4000s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('4000s')",message="idleTimeout must be between 1s and 4000s"
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`

	// DeletionProtection asks the cloud to refuse deleting the load balancer.
	// +optional
	DeletionProtection *bool `json:"deletionProtection,omitempty"`

	// AccessLogs configures request logs where the provider supports them.
	// +optional
	AccessLogs *AccessLogs `json:"accessLogs,omitempty"`

	// HealthCheck configures how the load balancer probes the backends of
	// every target group (each Service port a route names). Its fields
	// merge one by one: the Gateway's over the class's.
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// Emulated holds options of the emulated cloud.
	// +optional
	Emulated *EmulatedParameters `json:"emulated,omitempty"`

	// AWS holds ALB and NLB options.
	// +optional
	AWS *AWSParameters `json:"aws,omitempty"`

	// GCP holds Google Cloud load balancer options.
	// +optional
	GCP *GCPParameters `json:"gcp,omitempty"`
}

// Scheme is internet-facing or internal.
// +kubebuilder:validation:Enum=internet-facing;internal
type Scheme string

// Schemes.
const (
	SchemeInternetFacing Scheme = "internet-facing"
	SchemeInternal       Scheme = "internal"
)

// AccessLogs configures request logs.
type AccessLogs struct {
	// Enabled turns access logs on.
	Enabled bool `json:"enabled"`
	// Bucket receives the logs (an S3 or GCS bucket name).
	// +optional
	// +kubebuilder:validation:MaxLength=222
	Bucket string `json:"bucket,omitempty"`
	// Prefix is prepended to log object names.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	Prefix string `json:"prefix,omitempty"`
}

// HealthCheck configures target health probes. Unset fields take the
// provider's defaults. The bounds are those every provider accepts (ALB's
// are the narrowest). The emulated cloud carries them but does not probe:
// EndpointSlice readiness decides which targets it uses.
//
// +kubebuilder:validation:XValidation:rule="!has(self.interval) || !has(self.timeout) || duration(self.timeout) < duration(self.interval)",message="timeout must be shorter than interval"
// +kubebuilder:validation:XValidation:rule="!has(self.protocol) || self.protocol != 'TCP' || (!has(self.path) && !has(self.successCodes))",message="path and successCodes apply to HTTP and HTTPS probes only"
type HealthCheck struct {
	// Protocol of the probe: HTTP, HTTPS or TCP (the connection opens).
	// Unset probes each target group with the provider's default for its
	// protocol.
	// +optional
	// +kubebuilder:validation:Enum=HTTP;HTTPS;TCP
	Protocol *string `json:"protocol,omitempty"`

	// Path requested by HTTP and HTTPS probes, "/" by default.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]*$`
	Path *string `json:"path,omitempty"`

	// Port probed on each target; unset probes the port traffic goes to.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// Interval between two probes of a target, 5s to 300s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s') && duration(self) <= duration('300s')",message="interval must be between 5s and 300s"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout of one probe, 2s to 120s, and shorter than the interval.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('2s') && duration(self) <= duration('120s')",message="timeout must be between 2s and 120s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// HealthyThreshold is how many probes in a row must pass before a
	// target gets traffic, 2 to 10.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	HealthyThreshold *int32 `json:"healthyThreshold,omitempty"`

	// UnhealthyThreshold is how many probes in a row must fail before a
	// target gets no more traffic, 2 to 10.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	UnhealthyThreshold *int32 `json:"unhealthyThreshold,omitempty"`

	// SuccessCodes are the status codes of a passing HTTP or HTTPS probe:
	// codes and ranges between 200 and 499, separated by commas, such as
	// "200", "200-299" or "200,204,300-399".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[2-4][0-9][0-9](-[2-4][0-9][0-9])?(,[2-4][0-9][0-9](-[2-4][0-9][0-9])?)*$`
	SuccessCodes *string `json:"successCodes,omitempty"`
}

// EmulatedParameters are options of the emulated cloud.
type EmulatedParameters struct {
	// Address asks for a fixed IPv4 address from the emulated cloud's range,
	// unless the Gateway's spec.addresses ask for one.
	// +optional
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="address must be an IPv4 address"
	Address *string `json:"address,omitempty"`

	// ResponseHeaders are added to every response the emulated proxy sends.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	ResponseHeaders map[string]string `json:"responseHeaders,omitempty"`
}

// AWSParameters are ALB and NLB options.
//
// +kubebuilder:validation:XValidation:rule="!has(self.securityGroups) || (!has(self.sourceRanges) && !has(self.backendSecurityGroup))",message="sourceRanges and backendSecurityGroup configure the security group Cloudgate creates, which securityGroups replaces"
type AWSParameters struct {
	// Subnets of the load balancer (at least two, in different zones, for
	// an ALB). The Gateway's list replaces the class's. Unset takes the
	// controller's --subnets (--internal-subnets for an internal scheme),
	// else the subnets tagged kubernetes.io/role/elb=1
	// (kubernetes.io/role/internal-elb=1) and kubernetes.io/cluster/<cluster>.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^subnet-[0-9a-f]{8,17}$`
	Subnets []string `json:"subnets,omitempty"`

	// SecurityGroups are attached to the load balancer as they are, and
	// never modified: their rules must let clients reach the listeners and
	// the load balancer reach the targets. Unset, Cloudgate creates one
	// security group per load balancer (tagged as its own, deleted with the
	// Gateway) that opens the listener ports to sourceRanges. The
	// Gateway's list replaces the class's.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:Pattern=`^sg-[0-9a-f]{8,17}$`
	SecurityGroups []string `json:"securityGroups,omitempty"`

	// SourceRanges are the client CIDRs the security group Cloudgate
	// creates lets reach the listener ports: 0.0.0.0/0 by default, and
	// ::/0 too for a dualstack load balancer. The Gateway's list replaces
	// the class's.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="sourceRanges must be CIDRs, such as 10.0.0.0/8 or 2001:db8::/32"
	SourceRanges []string `json:"sourceRanges,omitempty"`

	// BackendSecurityGroup is a security group of the targets (the Pods'
	// or nodes' group) to which Cloudgate adds one ingress rule per target
	// port from the security group it created for the load balancer. The
	// rules carry Cloudgate's ownership tags and are the only ones it
	// changes or revokes there; the group itself is never modified
	// otherwise. Unset, the targets' security groups must already admit
	// the load balancer.
	// +optional
	// +kubebuilder:validation:Pattern=`^sg-[0-9a-f]{8,17}$`
	BackendSecurityGroup *string `json:"backendSecurityGroup,omitempty"`

	// SSLPolicy is the ELBv2 security policy of HTTPS listeners,
	// ELBSecurityPolicy-TLS13-1-2-2021-06 by default.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^ELBSecurityPolicy-[A-Za-z0-9-]+$`
	SSLPolicy *string `json:"sslPolicy,omitempty"`

	// TargetType is how target groups address the backends: ip (the
	// default) registers Pod IPs; instance would register nodes through
	// NodePorts, which the AWS provider does not do yet and refuses.
	// +optional
	// +kubebuilder:validation:Enum=ip;instance
	TargetType *string `json:"targetType,omitempty"`

	// DeregistrationDelay is how long a target that leaves keeps its
	// connections, 0s to 3600s (300s by default), in whole seconds (a
	// fraction is dropped).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('3600s')",message="deregistrationDelay must be between 0s and 3600s"
	DeregistrationDelay *metav1.Duration `json:"deregistrationDelay,omitempty"`

	// Attributes are raw load balancer attributes, merged by key. Keys
	// that fields of these parameters set (idleTimeout,
	// deletionProtection, accessLogs) are refused here.
	// +optional
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z0-9_]+([.][a-z0-9_]+)+$') && size(k) <= 256 && size(self[k]) <= 1024)",message="attribute keys are dotted lower-case names such as routing.http2.enabled, values at most 1024 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'idle_timeout.timeout_seconds' && k != 'deletion_protection.enabled' && !k.startsWith('access_logs.'))",message="set idleTimeout, deletionProtection and accessLogs through their fields, not attributes"
	Attributes map[string]string `json:"attributes,omitempty"`

	// TargetGroupAttributes are raw attributes of every target group,
	// merged by key; deregistration_delay.timeout_seconds is
	// deregistrationDelay's.
	// +optional
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z0-9_]+([.][a-z0-9_]+)+$') && size(k) <= 256 && size(self[k]) <= 1024)",message="attribute keys are dotted lower-case names such as stickiness.enabled, values at most 1024 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'deregistration_delay.timeout_seconds')",message="set deregistrationDelay through its field, not targetGroupAttributes"
	TargetGroupAttributes map[string]string `json:"targetGroupAttributes,omitempty"`

	// Quotas are the account's raised ELB service quotas; unset ones are
	// AWS's defaults. Mapping then admits rules and certificates up to the
	// raised limits, and the provider counts against them.
	// +optional
	Quotas *AWSQuotas `json:"quotas,omitempty"`

	// CertificateARNs are ACM (or IAM server) certificates that every
	// listener terminating TLS serves, after the certificates of its
	// tls.certificateRefs; a listener may then have certificateRefs or
	// only tls.options. The Gateway's list replaces the class's. A
	// provider that cannot serve ACM certificates reports them on those
	// listeners (ResolvedRefs=False).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=25
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:items:Pattern=`^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:[0-9]{12}:(certificate|server-certificate)/[A-Za-z0-9/+=,.@_-]+$`
	CertificateARNs []string `json:"certificateARNs,omitempty"`
}

// AWSQuotas are adjustable ELB quotas (Service Quotas, Elastic Load
// Balancing) above their defaults. Each field merges on its own.
type AWSQuotas struct {
	// RulesPerLoadBalancer is "Rules per Application Load Balancer
	// (excluding default rules)", 100 by default.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=10000
	RulesPerLoadBalancer *int32 `json:"rulesPerLoadBalancer,omitempty"`
	// CertificatesPerLoadBalancer is "Certificates per Application Load
	// Balancer (excluding default certificates)", 25 by default.
	// +optional
	// +kubebuilder:validation:Minimum=25
	// +kubebuilder:validation:Maximum=1000
	CertificatesPerLoadBalancer *int32 `json:"certificatesPerLoadBalancer,omitempty"`
	// TargetGroupsPerLoadBalancer is "Target groups per Application Load
	// Balancer", 100 by default.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=10000
	TargetGroupsPerLoadBalancer *int32 `json:"targetGroupsPerLoadBalancer,omitempty"`
	// ListenersPerLoadBalancer is "Listeners per Application Load
	// Balancer", 50 by default.
	// +optional
	// +kubebuilder:validation:Minimum=50
	// +kubebuilder:validation:Maximum=1000
	ListenersPerLoadBalancer *int32 `json:"listenersPerLoadBalancer,omitempty"`
}

// GCPParameters are Google Cloud options; the GCP provider's work fills them in.
type GCPParameters struct {
	// Region of regional load balancers.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]+-[a-z]+[0-9]+$`
	Region string `json:"region,omitempty"`

	// SSLCertificates are names of Compute Engine SSL certificates (in
	// the region when region is set, else global) that every listener
	// terminating TLS serves, after the certificates of its
	// tls.certificateRefs, as aws.certificateARNs are. The Gateway's list
	// replaces the class's.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=15
	// +kubebuilder:validation:items:Pattern=`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`
	SSLCertificates []string `json:"sslCertificates,omitempty"`
}

// LoadBalancerParametersStatus is reserved for future use.
type LoadBalancerParametersStatus struct {
	// Conditions describe the parameters' state.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// LoadBalancerParametersList is a list of LoadBalancerParameters.
//
// +kubebuilder:object:root=true
type LoadBalancerParametersList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LoadBalancerParameters `json:"items"`
}
