//go:build !linux

package dataplane

import "net"

// spinner polls sockets on Linux only (spin_linux.go); elsewhere the fast
// path reads its connections as they are.
type spinner struct{}

func newSpinner(net.Conn) *spinner { return nil }

func (*spinner) Read([]byte) (int, error) { panic("unreachable") }
