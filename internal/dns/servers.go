package dns

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// fallbackServers are asked when resolv.conf cannot be read or names no
// usable server, as the Go and C resolvers do.
var fallbackServers = []string{"127.0.0.1:53", "[::1]:53"}

// normalizeServer turns "ip:port" or a bare IP into "ip:port"; ok is
// false for anything else (host names would need DNS to find DNS).
func normalizeServer(s string) (string, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), true
	}
	return "", false
}

// parseResolvConf returns the servers of the nameserver lines of a
// resolv.conf, each as "ip:port". Search lists, ndots and the rest are
// ignored: mail names are always asked as absolute names.
func parseResolvConf(data []byte) []string {
	cc, err := dns.ClientConfigFromReader(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cc.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue // resolv.conf(5): the address must be numeric
		}
		out = append(out, net.JoinHostPort(a.String(), cc.Port))
	}
	return out
}

// resolvConf reads the system servers, and again when the file changed,
// looking at most every few seconds.
type resolvConf struct {
	path string

	mu      sync.Mutex
	checked time.Time
	modTime time.Time
	size    int64
	servers []string
}

const resolvConfRecheck = 5 * time.Second

func (r *resolvConf) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.servers != nil && now.Sub(r.checked) < resolvConfRecheck {
		return r.servers
	}
	r.checked = now
	fi, err := os.Stat(r.path)
	if err == nil && r.servers != nil && fi.ModTime().Equal(r.modTime) && fi.Size() == r.size {
		return r.servers
	}
	var servers []string
	if err == nil {
		if data, rerr := os.ReadFile(r.path); rerr == nil {
			servers = parseResolvConf(data)
		}
		r.modTime, r.size = fi.ModTime(), fi.Size()
	}
	if len(servers) == 0 {
		servers = fallbackServers
	}
	r.servers = servers
	return servers
}
