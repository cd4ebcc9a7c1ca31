package dane

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

var mxNames = []string{"mx.example.test"}

func TestVerifyDANEEE(t *testing.T) {
	p := newPKI(t)
	for _, s := range []Selector{SelectorCert, SelectorSPKI} {
		for _, m := range []MatchingType{MatchFull, MatchSHA256, MatchSHA512} {
			r := record(DANEEE, s, m, p.leaf.cert)
			if err := Verify(p.chain(false), []Record{r}, mxNames, testNow); err != nil {
				t.Errorf("%v: %v", r, err)
			}
		}
	}
	// RFC 7672 3.1.1: neither the names nor the dates of the certificate
	// count, and the chain need not be valid.
	old := issue(t, certSpec{cn: "other.test", dns: []string{"other.test"},
		notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-24 * time.Hour)}, nil)
	r := record(DANEEE, SelectorSPKI, MatchSHA256, old.cert)
	if err := Verify([]*x509.Certificate{old.cert, p.inter.cert}, []Record{r}, mxNames, testNow); err != nil {
		t.Errorf("expired, wrong name, self-signed: %v", err)
	}
	// The record must match the server's own certificate, not another
	// one of the chain.
	r = record(DANEEE, SelectorSPKI, MatchSHA256, p.inter.cert)
	err := Verify(p.chain(true), []Record{r}, mxNames, testNow)
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "3 1 1 ") {
		t.Errorf("DANE-EE of the intermediate: %v", err)
	}
}

func TestVerifyDANETA(t *testing.T) {
	p := newPKI(t)
	for _, c := range []struct {
		what  string
		r     Record
		chain []*x509.Certificate
	}{
		{"2 0 1 root in chain", record(DANETA, SelectorCert, MatchSHA256, p.root.cert), p.chain(true)},
		{"2 1 1 root in chain", record(DANETA, SelectorSPKI, MatchSHA256, p.root.cert), p.chain(true)},
		{"2 0 2 root in chain", record(DANETA, SelectorCert, MatchSHA512, p.root.cert), p.chain(true)},
		{"2 1 2 intermediate", record(DANETA, SelectorSPKI, MatchSHA512, p.inter.cert), p.chain(false)},
		{"2 0 1 intermediate", record(DANETA, SelectorCert, MatchSHA256, p.inter.cert), p.chain(false)},
		{"2 0 0 root not sent", record(DANETA, SelectorCert, MatchFull, p.root.cert), p.chain(false)},
		{"2 1 0 root key not sent", record(DANETA, SelectorSPKI, MatchFull, p.root.cert), p.chain(false)},
		{"2 1 0 intermediate key not sent", record(DANETA, SelectorSPKI, MatchFull, p.inter.cert), p.chain(false)[:1]},
		{"2 0 0 root sent", record(DANETA, SelectorCert, MatchFull, p.root.cert), p.chain(true)},
		{"2 0 1 the server's own", record(DANETA, SelectorCert, MatchSHA256, p.leaf.cert), p.chain(false)},
	} {
		if err := Verify(c.chain, []Record{c.r}, mxNames, testNow); err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
	}
}

func TestVerifyDANETAFailures(t *testing.T) {
	p := newPKI(t)
	rootTA := record(DANETA, SelectorSPKI, MatchSHA256, p.root.cert)
	other := issue(t, certSpec{cn: "Other CA", ca: true}, nil)
	expiredRoot := issue(t, certSpec{cn: "Old Root", ca: true, notAfter: testNow.Add(-time.Hour)}, nil)
	underOld := issue(t, certSpec{cn: "mx.example.test", dns: []string{"mx.example.test"}}, expiredRoot)
	expiredLeaf := issue(t, certSpec{cn: "mx.example.test", dns: []string{"mx.example.test"},
		notAfter: testNow.Add(-time.Hour)}, p.root)
	for _, c := range []struct {
		what  string
		recs  []Record
		chain []*x509.Certificate
		names []string
		want  error
		msg   string
	}{
		{"wrong name", []Record{rootTA}, p.chain(true), []string{"mail.example.test"}, ErrName, `it is for "mx.example.test", want one of "mail.example.test"`},
		{"no names", []Record{rootTA}, p.chain(true), nil, ErrName, "no names"},
		{"TA not sent", []Record{rootTA}, p.chain(false), mxNames, ErrNoMatch, "none of the 2 certificates"},
		{"other CA", []Record{record(DANETA, SelectorCert, MatchSHA256, other.cert)},
			append(p.chain(false), other.cert), mxNames, ErrChain, `"CN=Other CA"`},
		{"2 0 0 of another CA", []Record{record(DANETA, SelectorCert, MatchFull, other.cert)}, p.chain(false), mxNames, ErrChain, "unknown authority"},
		{"2 1 0 of another CA", []Record{record(DANETA, SelectorSPKI, MatchFull, other.cert)}, p.chain(false), mxNames, ErrChain, ""},
		{"expired TA", []Record{record(DANETA, SelectorCert, MatchSHA256, expiredRoot.cert)},
			[]*x509.Certificate{underOld.cert, expiredRoot.cert}, mxNames, ErrChain, "expired"},
		{"expired server certificate", []Record{rootTA}, []*x509.Certificate{expiredLeaf.cert, p.root.cert}, mxNames, ErrChain, "expired"},
		{"EE and TA both miss", []Record{record(DANEEE, SelectorSPKI, MatchSHA256, other.cert), rootTA},
			p.chain(false), mxNames, ErrNoMatch, "DANE-EE"},
		{"only unusable", []Record{record(PKIXEE, SelectorSPKI, MatchSHA256, p.leaf.cert), record(PKIXTA, SelectorCert, MatchSHA256, p.root.cert)},
			p.chain(true), mxNames, ErrNoRecords, ""},
		{"no records", nil, p.chain(true), mxNames, ErrNoRecords, ""},
		{"no certificate", []Record{rootTA}, nil, mxNames, ErrNoCertificate, ""},
	} {
		err := Verify(c.chain, c.recs, c.names, testNow)
		if !errors.Is(err, c.want) || !strings.Contains(errString(err), c.msg) {
			t.Errorf("%s: %v, want %v with %q", c.what, err, c.want, c.msg)
		}
	}
	// One satisfied record is enough, whatever the others.
	recs := []Record{record(DANEEE, SelectorSPKI, MatchSHA256, other.cert), record(DANETA, SelectorCert, MatchSHA256, other.cert), rootTA}
	if err := Verify(p.chain(true), recs, mxNames, testNow); err != nil {
		t.Errorf("one good record among bad ones: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestVerifyNames(t *testing.T) {
	root := issue(t, certSpec{cn: "Root", ca: true}, nil)
	ta := []Record{record(DANETA, SelectorSPKI, MatchSHA256, root.cert)}
	for _, c := range []struct {
		spec  certSpec
		names []string
		ok    bool
	}{
		{certSpec{dns: []string{"mx.example.test"}}, []string{"MX.Example.Test."}, true},
		{certSpec{dns: []string{"other.test", "mx.example.test"}}, []string{"mx.example.test"}, true},
		// The second name: the MX host name when the base domain is a
		// CNAME target.
		{certSpec{dns: []string{"mx.example.test"}}, []string{"mx.hosting.test", "mx.example.test"}, true},
		{certSpec{dns: []string{"*.example.test"}}, []string{"mx.example.test"}, true},
		{certSpec{dns: []string{"*.example.test"}}, []string{"example.test"}, false},
		{certSpec{dns: []string{"*.example.test"}}, []string{"a.mx.example.test"}, false},
		{certSpec{dns: []string{"m*.example.test"}}, []string{"mx.example.test"}, false},
		{certSpec{dns: []string{"*.*.test"}}, []string{"mx.example.test"}, false},
		// A common name counts only without DNS names.
		{certSpec{cn: "mx.example.test"}, []string{"mx.example.test"}, true},
		{certSpec{cn: "mx.example.test", dns: []string{"other.test"}}, []string{"mx.example.test"}, false},
		{certSpec{}, []string{"mx.example.test"}, false},
	} {
		leaf := issue(t, c.spec, root)
		err := Verify([]*x509.Certificate{leaf.cert, root.cert}, ta, c.names, testNow)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrName) {
			t.Errorf("%v for %v: %v, want ok %v", c.spec.dns, c.names, err, c.ok)
		}
	}
}

func TestVerifyConnection(t *testing.T) {
	// VerifyConnection checks at the current time: certificates valid now.
	now := certSpec{ca: true, cn: "Root", notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(time.Hour)}
	root := issue(t, now, nil)
	now.ca, now.cn, now.dns = false, "", mxNames
	leaf := issue(t, now, root)
	st := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf.cert, root.cert}}
	ta := Decision{Mode: ModeVerify, Records: []Record{record(DANETA, SelectorSPKI, MatchSHA256, root.cert)}, Names: mxNames}
	if err := ta.VerifyConnection(st); err != nil {
		t.Errorf("DANE-TA: %v", err)
	}
	ta.Names = []string{"other.test"}
	if err := ta.VerifyConnection(st); !errors.Is(err, ErrName) {
		t.Errorf("DANE-TA, wrong name: %v", err)
	}
	ee := Decision{Mode: ModeVerify, Records: []Record{record(DANEEE, SelectorSPKI, MatchSHA256, root.cert)}}
	if err := ee.VerifyConnection(st); !errors.Is(err, ErrNoMatch) {
		t.Errorf("DANE-EE mismatch: %v", err)
	}
	if err := ee.VerifyConnection(nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no state: %v", err)
	}
	for _, m := range []Mode{ModeNone, ModeEncrypt} {
		if err := (Decision{Mode: m}).VerifyConnection(&tls.ConnectionState{}); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
}
