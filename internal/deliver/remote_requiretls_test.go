package deliver

import (
	"context"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

// secureNames is a TLS rule set that vouches for every server's name,
// as an MTA-STS policy listing it does.
type secureNames TLSPolicy

func (s secureNames) Domain(context.Context, string, bool) (DomainTLS, error) { return s, nil }

func (s secureNames) Host(context.Context, Server) (TLSChoice, error) {
	return TLSChoice{Policy: TLSPolicy(s), Why: "test rule", NameSecure: true}, nil
}

// REQUIRETLS (RFC 8689): the message leaves only over verified TLS, to a
// server whose name is authenticated and that offers REQUIRETLS, and the
// parameter goes with it; anything less is refused for good (5.7.30) or,
// for a certificate, deferred.
func TestRemoteRequireTLS(t *testing.T) {
	zone := dnstest.Zone{"example.net. MX": {"10 mx.example.net."}, "mx.example.net. A": {"127.0.0.1"}}
	send := func(r *Remote, id string) error {
		env, rcpts, body := message(id, "a@example.org", body1, "b@example.net")
		env.RequireTLS = true
		return r.Deliver(context.Background(), env, rcpts, body)[0]
	}
	base, pool := serverTLS(t, "mx.example.net")
	base.Ext = append(base.Ext, "REQUIRETLS")
	rx := startReceiver(t, base)

	// The MX name comes from plain DNS: not good enough.
	r := newRemote(t, zone, rx.Port)
	r.RootCAs = pool
	r.TLS = StaticTLS(PolicyMay)
	wantReply(t, "name not authenticated", send(r, "R1"), 550, "5.7.30")

	// Authenticated name, certificate that does not verify: deferred.
	r = newRemote(t, zone, rx.Port)
	r.TLS = secureNames(PolicyMay)
	wantReply(t, "unverified certificate", send(r, "R2"), 451, "4.7.5")

	// All met: delivered, with the parameter.
	r = newRemote(t, zone, rx.Port)
	r.RootCAs = pool
	r.TLS = secureNames(PolicyMay)
	if err := send(r, "R3"); err != nil {
		t.Fatalf("REQUIRETLS with everything in place: %v", err)
	}
	found := false
	for _, c := range rx.Commands() {
		if strings.HasPrefix(c, "MAIL FROM:") && strings.HasSuffix(c, " REQUIRETLS") {
			found = true
		}
	}
	if !found {
		t.Errorf("MAIL without REQUIRETLS: %q", rx.Commands())
	}

	// A server that does not offer REQUIRETLS never gets the message.
	plainTLS, pool2 := serverTLS(t, "mx.example.net")
	rx2 := startReceiver(t, plainTLS)
	r = newRemote(t, zone, rx2.Port)
	r.RootCAs = pool2
	r.TLS = secureNames(PolicyMay)
	wantReply(t, "no REQUIRETLS at the next hop", send(r, "R4"), 550, "5.7.30")
	if len(rx2.Data()) != 0 {
		t.Error("REQUIRETLS message sent to a server without REQUIRETLS")
	}
}
