package conformance

import "sigs.k8s.io/gateway-api/conformance/utils/config"

// defaultTimeouts are the suite's defaults. They are kept in one place so that
// a change for this machine (two cores, processes as Pods) is visible.
func defaultTimeouts() config.TimeoutConfig {
	return config.DefaultTimeoutConfig()
}
