package maps

import (
	"net/netip"
	"strings"
	"testing"
)

const peerAccess = `
Srv_Features:                 V
Srv_Features:10.1             v S
Srv_Features:nopipe.example   P A
TLS_Clt:partner.example       VERIFY
TLS_Clt:192.0.2.0/24          ENCR:128
TLS_Srv:secure.example        VERIFY:112
TLS_Srv:192.0.2.77            ENCR:256
CertIssuer:/C=US/O=Example+20Corp/CN=Example+20CA  RELAY
CertIssuer:/CN=Shared+20CA    SUBJECT
CertSubject:/CN=relay.partner.example  RELAY
`

func TestAccessPeerTags(t *testing.T) {
	a := mustAccess(t, peerAccess)
	ip := netip.MustParseAddr
	feat := []struct {
		host, ip string
		want     string
	}{
		{"", "10.1.2.3", "S v"},
		{"mx.nopipe.example", "192.0.2.1", "A P"},
		{"other.example", "198.51.100.1", "V"},
	}
	for _, c := range feat {
		e, ok := a.SrvFeatures(c.host, ip(c.ip))
		if !ok || e.Features.String() != c.want {
			t.Errorf("Srv_Features %s [%s]: %q %v, want %q", c.host, c.ip, e.Features, ok, c.want)
		}
	}
	if e, ok := a.TLSClient("mail.partner.example", ip("203.0.113.1")); !ok || !e.TLSReq.Verify {
		t.Errorf("TLS_Clt by name: %+v %v", e.TLSReq, ok)
	}
	if e, ok := a.TLSClient("", ip("192.0.2.9")); !ok || e.TLSReq.Verify || e.TLSReq.Bits != 128 {
		t.Errorf("TLS_Clt by network: %+v %v", e.TLSReq, ok)
	}
	if _, ok := a.TLSClient("x.example", ip("203.0.113.1")); ok {
		t.Error("TLS_Clt without an entry found one")
	}
	if e, ok := a.TLSServer("mx.secure.example", ip("203.0.113.1")); !ok || e.TLSReq.String() != "VERIFY:112" {
		t.Errorf("TLS_Srv: %+v %v", e.TLSReq, ok)
	}
	for _, c := range []struct {
		issuer, subject string
		want            bool
	}{
		{"/C=US/O=Example Corp/CN=Example CA", "/CN=anyone", true},
		{"/c=us/o=example corp/cn=example ca", "", true},
		{"/CN=Shared CA", "/CN=relay.partner.example", true},
		{"/CN=Shared CA", "/CN=someone.else", false},
		{"/CN=Shared CA", "", false},
		{"/CN=Unknown CA", "/CN=relay.partner.example", false},
		{"", "", false},
	} {
		if _, ok := a.CertRelay(c.issuer, c.subject); ok != c.want {
			t.Errorf("CertRelay(%q, %q) = %v, want %v", c.issuer, c.subject, ok, c.want)
		}
	}
}

func TestAccessPeerErrors(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"Srv_Features:10.1 Q", "unknown letter"},
		{"Srv_Features:10.1 T", "unknown letter"},
		{"Srv_Features:10.1 ,", "unknown letter"},
		{"TLS_Clt:10.1 ENCR", "needs a strength"},
		{"TLS_Clt:10.1 VERIFY:x", "bad strength"},
		{"TLS_Srv:x.example PERHAPS", "want VERIFY"},
		{"TLS_Clt:a@b.example VERIFY", "not mail addresses"},
		{"TLS_Clt: VERIFY", "empty key"},
		{"CertIssuer:/CN=x+2 RELAY", "two hex digits"},
		{"CertIssuer:/CN=x OK", "want RELAY or SUBJECT"},
		{"CertSubject:/CN=x SUBJECT", "want RELAY"},
		{"CertIssuer:/CN=x RELAY\nCertIssuer:/cn=X RELAY", "duplicate key"},
		{"Srv_Features: V\nSrv_Features: S", "duplicate default"},
	} {
		_, err := ParseAccess("access", strings.NewReader(c.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.line, err, c.want)
		}
	}
}
