package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package.
var GroupVersion = schema.GroupVersion{Group: "cloudgate.dev", Version: "v1alpha1"}

// Kind names used in parametersRef.
const KindLoadBalancerParameters = "LoadBalancerParameters"

var (
	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this package's types to a scheme.
	AddToScheme = schemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &LoadBalancerParameters{}, &LoadBalancerParametersList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
