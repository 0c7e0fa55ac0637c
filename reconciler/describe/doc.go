// Package describe explains one Gateway the way the controller sees it:
// the effective parameters with the object each field came from, the
// listeners, the attached routes and their status, the provider's plan
// (a dry run: what a reconcile would change) and the cloud resources with
// their ids. `cloudgate describe gateway NS/NAME` (and the kubectl plugin
// `kubectl cloudgate describe`) prints it.
//
// It builds the controller's model through the controller's own code
// (reconciler.Snapshot, mapping.Build) rather than a second reading of the
// same objects, so that what it shows is what a reconcile would apply.
//
// Rules: it only reads. It gets and lists through a client.Reader, and asks
// the provider only for Plan, which reads the cloud and never writes to it;
// it needs no more than get and list on the objects the controller reads
// (Secrets included, for TLS listeners). What only the running controller
// remembers, the routes the cloud refused, it finds by the status the
// controller gave them, and leaves them out of the plan as the controller
// does.
package describe
