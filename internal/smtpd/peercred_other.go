//go:build !linux

package smtpd

import "net"

// peerUID is -1 where SO_PEERCRED is not available: a local listener then
// cannot name its client.
func peerUID(net.Conn) int { return -1 }
