// Command coredns is CoreDNS with only the plugins the Gateway API
// conformance suite's coredns backend uses in its Corefile (forward, log,
// errors, whoami): the full plugin set would pull in every cloud SDK.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func main() { coremain.Run() }
