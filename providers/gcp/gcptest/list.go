package gcptest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
)

// defaultMaxResults is the API's page size when maxResults is absent, and
// its largest.
const defaultMaxResults = 500

// list answers a collection's list: filtered, sorted by name, one page.
func (d *Double) list(req *request) ([]byte, *apiError) {
	q := req.http.URL.Query()
	if ob := q.Get("orderBy"); ob != "" && ob != "name" {
		return nil, invalid("Invalid value for field 'orderBy': '%s' (gcptest sorts by name only)", ob)
	}
	f, aerr := parseFilter(q.Get("filter"))
	if aerr != nil {
		return nil, aerr
	}
	prefix := "projects/" + d.project + "/" + req.scope + "/" + req.coll.name + "/"
	names, items, aerr := d.matching(prefix, f)
	if aerr != nil {
		return nil, aerr
	}
	start, end, next, aerr := page(req.http, len(names))
	if aerr != nil {
		return nil, aerr
	}
	page := make([]json.RawMessage, 0, end-start)
	for _, n := range names[start:end] {
		page = append(page, items[n])
	}
	out := map[string]any{
		"kind":     "compute#" + req.coll.kind + "List",
		"id":       strings.TrimSuffix(prefix, "/"),
		"selfLink": SelfLinkBase + strings.TrimSuffix(prefix, "/"),
		"items":    page,
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	b, _ := json.Marshal(out)
	return b, nil
}

// matching is the objects under prefix that f matches, as presented, by
// name; names sorted.
func (d *Double) matching(prefix string, f *filter) ([]string, map[string]json.RawMessage, *apiError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	items := map[string]json.RawMessage{}
	for ref, obj := range d.objects {
		if !strings.HasPrefix(ref, prefix) {
			continue
		}
		b, err := protojson.Marshal(d.present(obj))
		if err != nil {
			return nil, nil, errorf(http.StatusInternalServerError, "backendError", "gcptest: marshal: %v", err)
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, nil, errorf(http.StatusInternalServerError, "backendError", "gcptest: %v", err)
		}
		if f.matches(fields) {
			names = append(names, nameOf(ref))
			items[nameOf(ref)] = b
		}
	}
	sort.Strings(names)
	return names, items, nil
}

// aggregatedList answers a collection's aggregatedList: every region and
// zone the double serves, filtered, by scope ("regions/R", "zones/Z"),
// each scope's items sorted by name. It answers in one page whatever
// maxResults says (the provider lists a few objects per Gateway).
func (d *Double) aggregatedList(req *request) ([]byte, *apiError) {
	f, aerr := parseFilter(req.http.URL.Query().Get("filter"))
	if aerr != nil {
		return nil, aerr
	}
	scopes := []string{"regions/" + d.region}
	for _, z := range d.zones {
		scopes = append(scopes, "zones/"+z)
	}
	field := req.coll.name
	items := map[string]any{}
	for _, scope := range scopes {
		if !req.coll.in(scope) {
			continue
		}
		names, byName, aerr := d.matching("projects/"+d.project+"/"+scope+"/"+req.coll.name+"/", f)
		if aerr != nil {
			return nil, aerr
		}
		if len(names) == 0 {
			items[scope] = map[string]any{"warning": map[string]any{"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope '" + scope + "' on this page."}}
			continue
		}
		list := make([]json.RawMessage, 0, len(names))
		for _, n := range names {
			list = append(list, byName[n])
		}
		items[scope] = map[string]any{field: list}
	}
	b, _ := json.Marshal(map[string]any{
		"kind":     "compute#" + req.coll.kind + "AggregatedList",
		"id":       "projects/" + d.project + "/aggregated/" + req.coll.name,
		"selfLink": SelfLinkBase + "projects/" + d.project + "/aggregated/" + req.coll.name,
		"items":    items,
	})
	return b, nil
}

// page reads maxResults and pageToken and returns the slice [start, end)
// of n sorted items to answer, and the token of the next page. Tokens are
// offsets: a list that changes between pages may skip or repeat an item,
// as the API's may.
func page(r *http.Request, n int) (start, end int, next string, aerr *apiError) {
	q := r.URL.Query()
	size := defaultMaxResults
	if s := q.Get("maxResults"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > defaultMaxResults {
			return 0, 0, "", invalid("Invalid value for field 'maxResults': '%s'. Must be in the range [0, 500].", s)
		}
		if v > 0 {
			size = v
		}
	}
	if t := q.Get("pageToken"); t != "" {
		raw, err := base64.RawURLEncoding.DecodeString(t)
		v, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "offset:") || v < 0 {
			return 0, 0, "", invalid("Invalid value for field 'pageToken': '%s'", t)
		}
		start = min(v, n)
	}
	end = min(start+size, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}

// filter is the subset of the API's list filter the double understands:
// comparisons "field op value", op one of =, !=, eq, ne (eq and ne take
// an RE2 regular expression that must match the whole value), joined by
// AND (or juxtaposition, each in parentheses), or all joined by OR. field
// is a JSON path such as name, loadBalancingScheme or labels.team.
type filter struct {
	any   bool // OR rather than AND
	terms []term
}

type term struct {
	path   []string
	op     string
	value  string
	regexp *regexp.Regexp
}

var termRE = regexp.MustCompile(`^\s*\(?\s*([A-Za-z][A-Za-z0-9_.\-]*)\s*(=|!=|\beq\b|\bne\b)\s*("(?:[^"\\]|\\.)*"|[^\s()]+)\s*\)?\s*`)

func parseFilter(s string) (*filter, *apiError) {
	f := &filter{}
	rest := strings.TrimSpace(s)
	sawAnd, sawOr := false, false
	for rest != "" {
		m := termRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, invalid("Invalid value for field 'filter': '%s' (gcptest understands field = value, !=, eq and ne, joined by AND or OR)", s)
		}
		rest = strings.TrimSpace(rest[len(m[0]):])
		t := term{path: strings.Split(m[1], "."), op: m[2], value: m[3]}
		if strings.HasPrefix(t.value, `"`) {
			v, err := strconv.Unquote(t.value)
			if err != nil {
				return nil, invalid("Invalid value for field 'filter': bad string %s", t.value)
			}
			t.value = v
		}
		if t.op == "eq" || t.op == "ne" {
			re, err := regexp.Compile("^(?:" + t.value + ")$")
			if err != nil {
				return nil, invalid("Invalid value for field 'filter': bad regular expression '%s'", t.value)
			}
			t.regexp = re
		}
		f.terms = append(f.terms, t)
		switch {
		case strings.HasPrefix(rest, "AND "):
			rest, sawAnd = rest[4:], true
		case strings.HasPrefix(rest, "OR "):
			rest, sawOr = rest[3:], true
		}
	}
	if sawAnd && sawOr {
		return nil, invalid("Invalid value for field 'filter': '%s' (gcptest cannot mix AND and OR)", s)
	}
	f.any = sawOr
	return f, nil
}

func (f *filter) matches(fields map[string]any) bool {
	if len(f.terms) == 0 {
		return true
	}
	for _, t := range f.terms {
		if t.matches(fields) == f.any {
			return f.any
		}
	}
	return !f.any
}

func (t term) matches(fields map[string]any) bool {
	var v any = fields
	for _, p := range t.path {
		m, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = m[p]
	}
	var s string
	switch x := v.(type) {
	case nil:
		s = ""
	case string:
		s = x
	case bool, float64:
		b, _ := json.Marshal(x)
		s = string(b)
	default:
		return false
	}
	switch t.op {
	case "=":
		return s == t.value
	case "!=":
		return s != t.value
	case "eq":
		return t.regexp.MatchString(s)
	default:
		return !t.regexp.MatchString(s)
	}
}
