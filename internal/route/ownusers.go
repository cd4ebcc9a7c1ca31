package route

import (
	"net/netip"

	"postern/internal/inbound"
)

// FromOwnUsers is the SenderChecker.Applies of mail from our own users:
// authenticated clients, local submission, and the clients trusted says
// are ours (trusted_networks).
func FromOwnUsers(trusted func(netip.Addr) bool) func(t *inbound.Txn) bool {
	return func(t *inbound.Txn) bool {
		ip := t.Conn.IP()
		return t.Conn.AuthUser != "" || t.Conn.LocalUser != "" || !ip.IsValid() || trusted(ip)
	}
}
