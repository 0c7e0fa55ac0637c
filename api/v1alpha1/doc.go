// Package v1alpha1 holds the cloudgate.dev/v1alpha1 API: LoadBalancerParameters,
// the object that GatewayClass spec.parametersRef and Gateway
// spec.infrastructure.parametersRef point at.
//
// Validation lives in the schema (OpenAPI and CEL markers), so a bad object is
// refused by the API server before the controller sees it. This package imports
// apimachinery only.
//
// +kubebuilder:object:generate=true
// +groupName=cloudgate.dev
package v1alpha1
