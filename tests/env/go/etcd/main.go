// A real etcd server, built from go.etcd.io/etcd/server/v3 at the version that
// tests/env/build-control-plane.sh pins. Same entry point as etcd's own main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
