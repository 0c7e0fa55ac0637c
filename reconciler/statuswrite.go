package reconciler

import (
	"context"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writeStatus writes the status next computes from obj, when next says it
// changed. On a conflict it reads the object again from the API server (the
// cache may still hold the version that conflicted) and computes again; an
// object deleted meanwhile needs no status. Every status write of this
// package goes through here.
func writeStatus[T client.Object](ctx context.Context, c client.Client, reader client.Reader, obj T, next func(T) (T, bool)) error {
	cur := obj
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh := obj.DeepCopyObject().(T)
			if err := reader.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
				return err
			}
			cur = fresh
		}
		first = false
		n, changed := next(cur)
		if !changed {
			return nil
		}
		return c.Status().Update(ctx, n)
	})
	return ignoreGone(err)
}
