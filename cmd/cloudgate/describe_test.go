package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestDescribeRefusesBadInvocations checks that describe says what is
// wrong before it reads anything: a kind it does not describe, an output
// format it does not print, and an emulated provider without the
// endpoint of the controller's cloud (describe never starts a cloud of
// its own, which would be empty).
func TestDescribeRefusesBadInvocations(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pods", "a/b"}, "describe takes: gateway"},
		{[]string{"gateway"}, "describe takes: gateway"},
		{[]string{"gateway", "a/b", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"gateway", "a/b"}, "--emulated-endpoint is required"},
		{[]string{"gateway", "a/b", "--providers", "gcp", "--emulated-endpoint", "http://127.0.0.1:1"}, "--gcp-project"},
	} {
		err := describeCommandQuiet(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("describe %s: error %v, want one with %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

func describeCommandQuiet(args []string) error {
	return describeCommand(context.Background(), args, io.Discard)
}
