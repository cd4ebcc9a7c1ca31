package route

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"postern/internal/deliver"
	"postern/internal/dns"
	"postern/internal/tlsrpt"
)

// daneDNS answers DNSSEC lookups: every host has a validated address,
// and the TLSA records of tlsa (nil: the lookup fails).
type daneDNS struct{ tlsa map[string][][]byte }

func (daneDNS) LookupMXDNSSEC(context.Context, string) (dns.MXResult, error) {
	return dns.MXResult{}, errors.New("not used")
}

func (daneDNS) LookupIPAddrDNSSEC(_ context.Context, host string) (dns.AddrResult, error) {
	return dns.AddrResult{Addrs: []net.IPAddr{{IP: net.IPv4(192, 0, 2, 1)}}, Secure: true, Name: host + "."}, nil
}

func (d daneDNS) LookupTLSA(_ context.Context, port int, proto, host string) (dns.TLSAResult, error) {
	recs, ok := d.tlsa[host]
	if !ok || recs == nil {
		return dns.TLSAResult{}, errors.New("SERVFAIL")
	}
	return dns.TLSAResult{Name: "_25._tcp." + host + ".", Records: recs, Secure: true}, nil
}

func selfSigned(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Sessions under DANE are counted under a "tlsa" policy of the
// recipient domain, with RFC 8460 4.3.2.1's result types.
func TestTLSPoliciesReportDANE(t *testing.T) {
	cert := selfSigned(t, "mx.dane.example")
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	match := append([]byte{3, 1, 1}, spki[:]...)
	other := append([]byte{3, 1, 1}, make([]byte, 32)...)
	rec := &sessions{}
	pol := &TLSPolicies{Default: deliver.PolicyMay, Reports: rec, DNSSEC: daneDNS{tlsa: map[string][][]byte{
		"mx.dane.example":     {match},
		"mx.mismatch.example": {other},
		"mx.unusable.example": {{0, 0, 1, 1, 2, 3}},
		"mx.servfail.example": nil,
	}}}
	ip := netip.MustParseAddr("192.0.2.1")
	host := func(domain, mx string) (deliver.TLSChoice, error) {
		d, err := pol.Domain(context.Background(), domain, true)
		if err != nil {
			t.Fatal(err)
		}
		return d.Host(context.Background(), deliver.Server{Name: mx, IP: ip, Port: 25, MXSecure: true})
	}
	st := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}

	c, err := host("dane.example", "mx.dane.example")
	if err != nil || c.Verify == nil || c.Report == nil {
		t.Fatalf("DANE choice %+v, %v", c, err)
	}
	if err := c.Verify(st); err != nil {
		t.Fatalf("matching record: %v", err)
	}
	c.Report(deliver.TLSOutcome{Host: "mx.dane.example", IP: ip})
	got := rec.take()
	want := tlsrpt.Policy{Type: tlsrpt.PolicyTLSA, Domain: "dane.example", String: []string{"3 1 1 " + hex.EncodeToString(spki[:])}, MXHost: []string{"mx.dane.example"}}
	if len(got) != 1 || got[0].Result != "" || !reflect.DeepEqual(got[0].Policy, want) {
		t.Fatalf("success: %+v", got)
	}

	for _, tt := range []struct{ domain, mx, want string }{
		{"mismatch.example", "mx.mismatch.example", tlsrpt.ResultTLSAInvalid},
		{"unusable.example", "mx.unusable.example", tlsrpt.ResultTLSAInvalid},
		{"servfail.example", "mx.servfail.example", tlsrpt.ResultDNSSECInvalid},
	} {
		c, err := host(tt.domain, tt.mx)
		if tt.want == tlsrpt.ResultDNSSECInvalid {
			if err == nil {
				t.Errorf("%s: a failed TLSA lookup was not refused", tt.mx)
			}
		} else {
			if err != nil || c.Report == nil {
				t.Fatalf("%s: %+v, %v", tt.mx, c, err)
			}
			o := deliver.TLSOutcome{Host: tt.mx, IP: ip}
			if c.Verify != nil {
				if verr := c.Verify(st); verr != nil {
					// What delivery makes of a DANE error.
					o.Result, o.Detail = tlsrpt.ResultValidationFailure, verr.Error()
				}
			}
			c.Report(o)
		}
		got := rec.take()
		if len(got) != 1 || got[0].Result != tt.want || got[0].Policy.Type != tlsrpt.PolicyTLSA || got[0].Policy.Domain != tt.domain ||
			got[0].MXHost != tt.mx || got[0].Reason == "" {
			t.Errorf("%s: %+v, want %s", tt.mx, got, tt.want)
		}
	}
}
