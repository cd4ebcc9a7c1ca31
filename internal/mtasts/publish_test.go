package mtasts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

func TestPolicyTextRoundTrip(t *testing.T) {
	p := &Policy{Mode: Enforce, MX: []string{"mx1.example.test", "*.backup.example.test"}, MaxAge: 1209600}
	q, err := ParsePolicy(p.Text())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %+v, want %+v", q, p)
	}
	rec, err := ParseRecord(RecordText(p.Text()))
	if err != nil {
		t.Fatalf("RecordText does not parse: %v", err)
	}
	p.MaxAge++
	if rec.ID == PolicyID(p.Text()) {
		t.Error("the id did not change with the policy")
	}
}

func TestHandlerServesWhatFetchAccepts(t *testing.T) {
	body := (&Policy{Mode: Testing, MX: []string{"mx.a.test"}, MaxAge: 86400}).Text()
	pool, port := policyServer(t, Handler([]string{"a.test", "b.test"}, body), "mta-sts.a.test", "mta-sts.b.test")
	client := NewClient(toPort(port), pool, 5*time.Second)
	for _, d := range []string{"a.test", "b.test"} {
		resp, err := Fetch(context.Background(), client, d, 5*time.Second)
		if err != nil || resp.Body != body {
			t.Errorf("Fetch %s: %v, body %q", d, err, resp.Body)
		}
	}
	tests := []struct {
		method, host, path string
		status             int
	}{
		{"GET", "mta-sts.a.test", "/.well-known/mta-sts.txt", 200},
		{"GET", "MTA-STS.A.TEST.:443", "/.well-known/mta-sts.txt", 200},
		{"HEAD", "mta-sts.a.test", "/.well-known/mta-sts.txt", 200},
		{"POST", "mta-sts.a.test", "/.well-known/mta-sts.txt", 405},
		{"GET", "mta-sts.c.test", "/.well-known/mta-sts.txt", 404},
		{"GET", "a.test", "/.well-known/mta-sts.txt", 404},
		{"GET", "mta-sts.a.test", "/", 404},
	}
	h := Handler([]string{"a.test"}, body)
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "https://x"+tt.path, nil)
		req.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Errorf("%s %s%s: %d, want %d", tt.method, tt.host, tt.path, w.Code, tt.status)
		}
		if w.Code == http.StatusOK && w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tt.host, w.Header().Get("Content-Type"))
		}
	}
}
