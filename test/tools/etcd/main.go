// Command etcd is the etcd server, built from the Go module proxy because no
// prebuilt release can be downloaded on the machines Cloudgate is tested on.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
