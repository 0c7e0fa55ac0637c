package emulated

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// APIError is an error response from the emulated cloud's API.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	// RequestID is the id the cloud gave the request (its X-Request-Id
	// header), empty when the answer had none.
	RequestID string
	// Elements are the parts of the spec a 400 refuses, as the cloud names
	// them; Ensure reports them as model names in a *providers.InvalidError.
	Elements []cloud.Element
}

func (e *APIError) Error() string {
	if e.RequestID == "" {
		return fmt.Sprintf("emulated cloud: %d %s: %s", e.StatusCode, e.Code, e.Message)
	}
	return fmt.Sprintf("emulated cloud: %d %s: %s (request id %s)", e.StatusCode, e.Code, e.Message, e.RequestID)
}

// Unwrap makes a refused configuration (400) match providers.ErrInvalid, so the
// reconciler reports it instead of retrying; a refused address matches
// providers.ErrAddressNotUsable too.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusBadRequest && e.Code == cloud.CodeAddressNotUsable {
		return providers.ErrAddressNotUsable
	}
	if e.StatusCode == http.StatusBadRequest {
		return providers.ErrInvalid
	}
	return nil
}

// Transient reports whether retrying the same request later may succeed.
func (e *APIError) Transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 ||
		e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusPreconditionFailed
}

func isStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == status
}

// client is the narrow API surface the adapter uses.
type client struct {
	base string
	http *retryablehttp.Client
	// pageSize is the list page size asked for; 0 takes the cloud's default.
	pageSize int
	// count, when set, hears of every call (Config.CountCall).
	count func(operation, outcome string)
}

// list returns every load balancer with the name (if set) and all the tags,
// reading page after page: one request per page.
func (c *client) list(ctx context.Context, name string, tags map[string]string) ([]cloud.LoadBalancer, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Add("tag", k+"="+tags[k])
	}
	if c.pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(c.pageSize))
	}
	var all []cloud.LoadBalancer
	for {
		var page cloud.List
		if err := c.do(ctx, OpList, http.MethodGet, "/v1/loadbalancers?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		next := page.NextPageToken
		if next == "" {
			return all, nil
		}
		if next == q.Get("pageToken") {
			return nil, fmt.Errorf("emulated cloud: list: page token %q repeats", next)
		}
		q.Set("pageToken", next)
	}
}

// create and replace ask for the answer without its spec (the caller has
// it: in's) and give back in's spec with the cloud's answer.
func (c *client) create(ctx context.Context, in cloud.LoadBalancer) (cloud.LoadBalancer, error) {
	var out cloud.LoadBalancer
	err := c.do(ctx, OpCreate, http.MethodPost, "/v1/loadbalancers?view="+cloud.ViewStatus, in, &out)
	out.Spec = in.Spec
	return out, err
}

func (c *client) replace(ctx context.Context, id string, in cloud.LoadBalancer) (cloud.LoadBalancer, error) {
	var out cloud.LoadBalancer
	err := c.do(ctx, OpReplace, http.MethodPut, "/v1/loadbalancers/"+url.PathEscape(id)+"?view="+cloud.ViewStatus, in, &out)
	out.Spec = in.Spec
	return out, err
}

// patch sends a replace as a cloud.Patch; like replace, it gives back
// spec (the whole spec the patch makes) with the cloud's answer.
func (c *client) patch(ctx context.Context, id string, in cloud.Patch, spec cloud.Spec) (cloud.LoadBalancer, error) {
	var out cloud.LoadBalancer
	err := c.do(ctx, OpReplace, http.MethodPatch, "/v1/loadbalancers/"+url.PathEscape(id)+"?view="+cloud.ViewStatus, in, &out)
	out.Spec = spec
	return out, err
}

func (c *client) delete(ctx context.Context, id string) error {
	return c.do(ctx, OpDelete, http.MethodDelete, "/v1/loadbalancers/"+url.PathEscape(id), nil, nil)
}

// do sends one API call (retried by retryablehttp), reports its outcome to
// c.count, and decodes the answer into out, or the error body into an
// *APIError.
func (c *client) do(ctx context.Context, op, method, path string, in, out any) error {
	err := c.send(ctx, method, path, in, out)
	if c.count != nil {
		c.count(op, Outcome(err))
	}
	return err
}

func (c *client) send(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("emulated cloud: encode request: %w", err)
		}
	}
	// A byte slice body is replayed on every retry.
	req, err := retryablehttp.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("emulated cloud: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("emulated cloud: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("emulated cloud: read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get(cloud.RequestIDHeader)}
		var wire cloud.Error
		if json.Unmarshal(data, &wire) == nil && wire.Code != "" {
			e.Code, e.Message, e.Elements = wire.Code, wire.Message, wire.Elements
		} else {
			e.Code, e.Message = http.StatusText(resp.StatusCode), string(bytes.TrimSpace(data))
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("emulated cloud: decode response: %w", err)
	}
	return nil
}
