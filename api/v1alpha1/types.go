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

// EmulatedParameters are options of the emulated cloud.
type EmulatedParameters struct {
	// Address asks for a fixed IPv4 address from the emulated cloud's range.
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
}

// GCPParameters are Google Cloud options; the GCP provider's work fills them in.
type GCPParameters struct {
	// Region of regional load balancers.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]+-[a-z]+[0-9]+$`
	Region string `json:"region,omitempty"`
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
