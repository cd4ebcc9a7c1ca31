package audit

import (
	"fmt"
	"net"
	"net/http"

	"postern/internal/mtasts"
)

// stsClient is the client that fetches MTA-STS policies: opt.HTTPClient
// when set, else one that resolves through opt.Resolver, connects only
// to loopback unless remote targets are allowed, verifies against the
// system roots, follows no redirect and gives up after the timeout.
func (o *Options) stsClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	d := &mtasts.Dialer{
		Timeout: o.Timeout,
		Allow: func(host string, ip net.IP) error {
			if !ip.IsLoopback() && !o.AllowRemote {
				return fmt.Errorf("%s (%s): %w", host, ip, ErrNotLoopback)
			}
			return nil
		},
	}
	if o.Resolver != nil {
		d.Resolver = o.Resolver
	}
	return mtasts.NewClient(d.DialContext, nil, o.Timeout)
}
