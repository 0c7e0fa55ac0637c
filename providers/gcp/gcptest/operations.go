package gcptest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// operation is one long-running operation. Its change is already applied;
// only its status waits for done.
type operation struct {
	op   *computepb.Operation
	done time.Time
}

// operationFor records the Operation of a mutation on target and returns
// its JSON. d.mu is held.
func (d *Double) operationFor(req *request, target, opType string) ([]byte, *apiError) {
	d.ids++
	now := d.now()
	name := "operation-" + now.UTC().Format("20060102150405") + "-" + strconv.FormatUint(d.ids, 36)
	ref := "projects/" + d.project + "/" + req.scope + "/operations/" + name
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(2000000000000000000 + d.ids),
		Name:          proto.String(name),
		OperationType: proto.String(opType),
		TargetLink:    proto.String(SelfLinkBase + target),
		Status:        computepb.Operation_RUNNING.Enum(),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(now.UTC().Format(time.RFC3339Nano)),
		StartTime:     proto.String(now.UTC().Format(time.RFC3339Nano)),
		SelfLink:      proto.String(SelfLinkBase + ref),
		User:          proto.String("gcptest@" + d.project + ".iam.gserviceaccount.com"),
	}
	if obj, ok := d.objects[target]; ok {
		op.TargetId = proto.Uint64(obj.ProtoReflect().Get(fieldOf(obj, "id")).Uint())
	}
	switch kind, loc, _ := strings.Cut(req.scope, "/"); kind {
	case "regions":
		op.Region = proto.String(SelfLinkBase + "projects/" + d.project + "/regions/" + loc)
	case "zones":
		op.Zone = proto.String(SelfLinkBase + "projects/" + d.project + "/zones/" + loc)
	}
	o := &operation{op: op, done: now.Add(d.opDelay)}
	d.ops[ref] = o
	return marshal(o.at(now))
}

// at returns the operation as a read at now sees it.
func (o *operation) at(now time.Time) *computepb.Operation {
	out := proto.CloneOf(o.op)
	if !now.Before(o.done) {
		out.Status = computepb.Operation_DONE.Enum()
		out.Progress = proto.Int32(100)
		out.EndTime = proto.String(o.done.UTC().Format(time.RFC3339Nano))
	}
	return out
}

func (d *Double) serveOperation(req *request) ([]byte, *apiError) {
	ref := req.ref(d.project)
	d.mu.Lock()
	o, ok := d.ops[ref]
	if !ok {
		d.mu.Unlock()
		return nil, notFound(ref)
	}
	switch req.verb {
	case "delete":
		delete(d.ops, ref)
		d.mu.Unlock()
		return []byte("{}"), nil
	case "wait":
		// Like the API, wait returns when the operation is done or after
		// at most two minutes, whichever comes first.
		limit := d.timeouts.max
		d.mu.Unlock()
		wait := time.Until(o.done)
		if wait > limit {
			wait = limit
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-req.http.Context().Done():
				return nil, errorf(http.StatusServiceUnavailable, "backendError", "the wait was cancelled")
			}
		}
		d.mu.Lock()
	}
	defer d.mu.Unlock()
	return marshal(o.at(d.now()))
}
