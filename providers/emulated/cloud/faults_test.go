package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// call sends one API request and returns its status.
func call(t *testing.T, method, u string, body any) int {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func tagged(name, uid string) LoadBalancer {
	return LoadBalancer{Name: name, Tags: map[string]string{lb.TagGatewayUID: uid, lb.TagCluster: "c"}}
}

// TestOwnerFault fails one Gateway's requests, in every form a request can
// concern it, while another Gateway's and cluster-wide requests pass.
func TestOwnerFault(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.10.0/24")})
	defer c.Close()
	ts := httptest.NewServer(c.Handler())
	defer ts.Close()
	a, err := c.Create(tagged("a", "uid-a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Create(tagged("b", "uid-b"))
	if err != nil {
		t.Fatal(err)
	}
	lbs := ts.URL + "/v1/loadbalancers"
	listOf := func(uid string) string { return lbs + "?" + url.Values{"tag": {lb.TagGatewayUID + "=" + uid}}.Encode() }

	if code := call(t, http.MethodPost, ts.URL+"/v1/faults", Fault{Status: 503, GatewayUID: "uid-a"}); code != http.StatusNoContent {
		t.Fatalf("POST /v1/faults = %d", code)
	}
	// A replace that moves a load balancer to Gateway a concerns a.
	moved := b
	moved.Tags = map[string]string{lb.TagGatewayUID: "uid-a"}
	for _, tc := range []struct {
		what, method, url string
		body              any
		want              int
	}{
		{"list by a's tag", http.MethodGet, listOf("uid-a"), nil, 503},
		{"get a", http.MethodGet, lbs + "/" + a.ID, nil, 503},
		{"replace a", http.MethodPut, lbs + "/" + a.ID, a, 503},
		{"delete a", http.MethodDelete, lbs + "/" + a.ID, nil, 503},
		{"create with a's tag", http.MethodPost, lbs, tagged("a2", "uid-a"), 503},
		{"replace b with a's tag", http.MethodPut, lbs + "/" + b.ID, moved, 503},
		{"list by b's tag", http.MethodGet, listOf("uid-b"), nil, 200},
		{"get b", http.MethodGet, lbs + "/" + b.ID, nil, 200},
		{"cluster-wide list", http.MethodGet, lbs + "?tag=" + url.QueryEscape(lb.TagCluster+"=c"), nil, 200},
		{"create for b", http.MethodPost, lbs, tagged("b2", "uid-b"), 201},
	} {
		if got := call(t, tc.method, tc.url, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}
	st := c.Stats()
	if st.Owners["uid-a"] != 6 || st.Owners["uid-b"] != 4 {
		t.Errorf("requests by owner = %v, want uid-a 6 and uid-b 4", st.Owners)
	}
	if st.Reads() != 5 || st.Writes() != 5 {
		t.Errorf("reads %d, writes %d, want 5 and 5 (%v)", st.Reads(), st.Writes(), st.Requests)
	}
	if _, err := c.Get(a.ID); err != nil {
		t.Errorf("a faulted delete reached the store: %v", err)
	}

	if code := call(t, http.MethodDelete, ts.URL+"/v1/faults?gatewayUID=uid-a", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /v1/faults = %d", code)
	}
	if got := call(t, http.MethodGet, listOf("uid-a"), nil); got != 200 {
		t.Errorf("after clearing, a's list = %d", got)
	}

	c.InjectOwnerFault("uid-a", http.StatusTooManyRequests, 50*time.Millisecond)
	if got := call(t, http.MethodGet, listOf("uid-a"), nil); got != 429 {
		t.Errorf("during a timed fault: %d, want 429", got)
	}
	time.Sleep(60 * time.Millisecond)
	if got := call(t, http.MethodGet, listOf("uid-a"), nil); got != 200 {
		t.Errorf("after a timed fault expired: %d, want 200", got)
	}
	call(t, http.MethodPost, ts.URL+"/v1/faults", Fault{Status: 429, GatewayUID: "uid-z", Duration: "1h"})
	if got := call(t, http.MethodGet, listOf("uid-z"), nil); got != 429 {
		t.Errorf("a timed fault over HTTP: %d, want 429", got)
	}

	for _, bad := range []Fault{{Status: 200}, {Status: 503, GatewayUID: "u", Duration: "soon"}, {Status: 503, Duration: "1s"}} {
		if got := call(t, http.MethodPost, ts.URL+"/v1/faults", bad); got != http.StatusBadRequest {
			t.Errorf("fault %+v: %d, want 400", bad, got)
		}
	}
	// Control requests are neither faulted nor counted.
	c.InjectFaults(100, 503)
	before := c.Stats()
	if got := call(t, http.MethodDelete, ts.URL+"/v1/faults", nil); got != http.StatusNoContent {
		t.Errorf("clearing every fault during a fault of anyone: %d", got)
	}
	var s Stats
	getJSON(t, ts.URL+"/v1/stats", http.StatusOK, &s)
	if s.Reads() != before.Reads() || c.Stats().Reads() != before.Reads() {
		t.Errorf("control requests were counted: %v → %v", before.Requests, s.Requests)
	}
	if got := call(t, http.MethodGet, lbs, nil); got != 200 {
		t.Errorf("after DELETE /v1/faults: %d", got)
	}
	call(t, http.MethodDelete, ts.URL+"/v1/stats", nil)
	if st := c.Stats(); st.Reads()+st.Writes() != 0 {
		t.Errorf("after reset: %v", st)
	}
}

// TestListPaging pages through a list in the order of ids, with creates and
// deletes between pages, and refuses bad paging parameters.
func TestListPaging(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.11.0/24")})
	defer c.Close()
	ts := httptest.NewServer(c.Handler())
	defer ts.Close()
	for i := range 7 {
		if _, err := c.Create(tagged(fmt.Sprintf("lb%d", i), "u")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create(LoadBalancer{Name: "untagged"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	token, pages := "", 0
	for {
		var l List
		q := url.Values{"tag": {lb.TagGatewayUID + "=u"}, "pageSize": {"3"}, "pageToken": {token}}
		getJSON(t, ts.URL+"/v1/loadbalancers?"+q.Encode(), http.StatusOK, &l)
		pages++
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		if token = l.NextPageToken; token == "" {
			break
		}
	}
	if pages != 3 || len(ids) != 7 || !slices.IsSorted(ids) {
		t.Errorf("%d pages of ids %v, want 3 pages of 7 sorted ids", pages, ids)
	}

	// Exactly a page's worth: no empty page after it.
	l, err := c.ListPage(ListOptions{Tags: map[string]string{lb.TagGatewayUID: "u"}, PageSize: 7})
	if err != nil || len(l.Items) != 7 || l.NextPageToken != "" {
		t.Errorf("a full single page: %d items, token %q, %v", len(l.Items), l.NextPageToken, err)
	}
	// A delete between pages loses nothing that remains.
	first, _ := c.ListPage(ListOptions{PageSize: 4})
	if err := c.Delete(first.Items[3].ID); err != nil {
		t.Fatal(err)
	}
	rest, err := c.ListPage(ListOptions{PageSize: 4, PageToken: first.NextPageToken})
	if err != nil || len(rest.Items) != 4 || rest.NextPageToken != "" {
		t.Errorf("after a delete between pages: %d items, token %q, %v; want the other 4", len(rest.Items), rest.NextPageToken, err)
	}
	if l, _ := c.ListPage(ListOptions{PageSize: 10_000}); len(l.Items) != 7 {
		t.Errorf("an oversized page: %d items", len(l.Items))
	}
	var e Error
	for _, q := range []string{"pageSize=-1", "pageSize=x", "pageToken=bogus", "pageToken=" + encodePageToken("")} {
		getJSON(t, ts.URL+"/v1/loadbalancers?"+q, http.StatusBadRequest, &e)
		if e.Code != CodeInvalid {
			t.Errorf("%s: %+v", q, e)
		}
	}
}

// TestRefusalNamesElements checks that a 400 for a bad spec names the
// element at fault in the JSON body.
func TestRefusalNamesElements(t *testing.T) {
	c := New(Config{AddressRange: netip.MustParsePrefix("127.99.12.0/24")})
	defer c.Close()
	ts := httptest.NewServer(c.Handler())
	defer ts.Close()
	fixed := lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 200}}
	bad := fixed
	bad.RequestHeaders = &lb.HeaderModifier{Add: []lb.Header{{Name: "no good", Value: "x"}}}
	in := LoadBalancer{Name: "refused", Spec: Spec{Listeners: []lb.Listener{{Name: "http", Port: 8080, Protocol: lb.ProtocolHTTP,
		VirtualHosts: []lb.VirtualHost{{Rules: []lb.Rule{{Name: "ok", Action: fixed}, {Name: "ns/r/rule-1", Action: bad}}}}}}}}
	body, _ := json.Marshal(in)
	resp, err := http.Post(ts.URL+"/v1/loadbalancers", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e Error
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	want := []Element{{Kind: ElementRule, Name: "ns/r/rule-1"}}
	if resp.StatusCode != http.StatusBadRequest || e.Code != CodeInvalid || !slices.Equal(e.Elements, want) {
		t.Errorf("refusal = %d %+v, want 400 naming %v", resp.StatusCode, e, want)
	}
	if len(c.List(ListOptions{})) != 0 {
		t.Error("a refused create stored something")
	}
}
