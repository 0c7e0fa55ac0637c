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

// AWSParameters are ALB and NLB options; the AWS provider's work fills them in.
type AWSParameters struct {
	// Attributes are raw load balancer attributes, merged by key.
	// +optional
	Attributes map[string]string `json:"attributes,omitempty"`

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
