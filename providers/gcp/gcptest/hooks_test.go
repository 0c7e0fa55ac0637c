package gcptest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cloudgate-dev/cloudgate/providers/gcp/gcptest"
)

// TestHookBeforeEditsBetweenReadAndWrite: a Before hook that edits the
// URL map while an update is on its way makes that update, which carries
// the fingerprint read before the edit, fail with 412; the hook sees the
// request body, and After sees the 412.
func TestHookBeforeEditsBetweenReadAndWrite(t *testing.T) {
	e := newEnv(t, gcptest.Config{}, nil)
	albGraph(t, e)
	ctx := context.Background()
	um, err := e.urlMaps.Get(ctx, &computepb.GetRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um"})
	if err != nil {
		t.Fatal(err)
	}
	var sent *computepb.UrlMap
	var codes []int
	remove := e.d.AddHook(gcptest.Hook{Method: "compute.regionUrlMaps.update",
		Before: func(c gcptest.Call) {
			sent = &computepb.UrlMap{}
			if err := protojson.Unmarshal(c.Body, sent); err != nil {
				t.Errorf("the hook's body %q: %v", c.Body, err)
			}
			if err := e.d.Edit(regional("urlMaps", "um"), func(m proto.Message) {
				m.(*computepb.UrlMap).Description = proto.String("edited by someone else")
			}); err != nil {
				t.Error(err)
			}
		},
		After: func(c gcptest.Call) { codes = append(codes, c.Code) },
	})
	um.Description = proto.String("the client's change")
	_, err = e.urlMaps.Update(ctx, &computepb.UpdateRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um", UrlMapResource: um})
	wantAPIError(t, err, http.StatusPreconditionFailed, "conditionNotMet")
	if sent.GetFingerprint() != um.GetFingerprint() || sent.GetDescription() != "the client's change" {
		t.Errorf("the hook saw fingerprint %q and description %q, want %q and the client's change", sent.GetFingerprint(), sent.GetDescription(), um.GetFingerprint())
	}
	if len(codes) != 1 || codes[0] != http.StatusPreconditionFailed {
		t.Errorf("After saw codes %v, want one 412", codes)
	}
	got, _ := gcptest.Get[*computepb.UrlMap](e.d, regional("urlMaps", "um"))
	if got.GetDescription() != "edited by someone else" {
		t.Errorf("the URL map's description is %q, want the edit's", got.GetDescription())
	}

	// Removed, the hook sees nothing: the update with the new fingerprint
	// goes through untouched.
	remove()
	got.Description = proto.String("the client's change")
	o, err := e.urlMaps.Update(ctx, &computepb.UpdateRegionUrlMapRequest{Project: project, Region: region, UrlMap: "um", UrlMapResource: got})
	wait(t, o, err)
	if len(codes) != 1 {
		t.Errorf("a removed hook ran: codes %v", codes)
	}
}

// TestHookAfterSeesLostAnswers: After runs once the change is made, with
// the code the client gets, an injected fault's included, and with an
// empty Method it sees every API call.
func TestHookAfterSeesLostAnswers(t *testing.T) {
	e := newEnv(t, gcptest.Config{}, nil)
	ctx := context.Background()
	if err := e.d.InjectFault(gcptest.Fault{Code: http.StatusServiceUnavailable, Method: "compute.regionHealthChecks.insert", Count: 1, AfterApply: true}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	stored := false
	e.d.AddHook(gcptest.Hook{
		After: func(c gcptest.Call) {
			seen = append(seen, c.Method+" "+http.StatusText(c.Code))
			if c.Method == "compute.regionHealthChecks.insert" {
				// The double's lock is not held: the hook may read it.
				_, stored = gcptest.Get[*computepb.HealthCheck](e.d, regional("healthChecks", "hc"))
			}
		},
	})
	hc := &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP"),
		TcpHealthCheck: &computepb.TCPHealthCheck{PortSpecification: proto.String("USE_SERVING_PORT")}}
	_, err := e.checks.Insert(ctx, &computepb.InsertRegionHealthCheckRequest{Project: project, Region: region, HealthCheckResource: hc})
	wantAPIError(t, err, http.StatusServiceUnavailable, "backendError")
	if !stored {
		t.Error("After ran before the lost answer's change was made")
	}
	_, err = e.checks.Get(ctx, &computepb.GetRegionHealthCheckRequest{Project: project, Region: region, HealthCheck: "hc"})
	if err != nil {
		t.Fatal(err)
	}
	want := "compute.regionHealthChecks.insert Service Unavailable|compute.regionHealthChecks.get OK"
	if got := strings.Join(seen, "|"); got != want {
		t.Errorf("After saw %q, want %q", got, want)
	}
}
