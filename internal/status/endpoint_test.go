package status

import (
	"context"
	"net/http/httptest"
	"testing"

	"postern/internal/config"
	"postern/internal/metrics"
	"postern/internal/tlsutil"
)

// TestAdminOverTLS: with [admin] tls the commands reach the listener
// over TLS, trusting the server's own (generated) certificate, and a
// listener with another certificate is not believed.
func TestAdminOverTLS(t *testing.T) {
	dir := t.TempDir()
	tc, err := tlsutil.Load("", "", dir, "mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	srv := httptest.NewUnstartedServer(m.Handler(metrics.AdminOptions{Status: metrics.Status{Hostname: "mx.example.test"}}))
	srv.TLS = tc
	srv.StartTLS()
	defer srv.Close()
	cfg := &config.Config{Hostname: "mx.example.test", DataDir: dir}
	cfg.Admin.Address, cfg.Admin.TLS = srv.Listener.Addr().String(), true
	st, live, why := Fetch(context.Background(), AdminOf(cfg))
	if !live || st.Hostname != "mx.example.test" {
		t.Fatalf("over TLS: live %v, %s", live, why)
	}
	// Plain HTTP to a TLS listener, and TLS with another data dir's
	// certificate, both fail.
	if _, live, _ := Fetch(context.Background(), Endpoint{Address: cfg.Admin.Address}); live {
		t.Error("plain HTTP reached a TLS listener")
	}
	cfg.DataDir = t.TempDir()
	tlsutil.Load("", "", cfg.DataDir, "mx.example.test")
	if _, live, _ := Fetch(context.Background(), AdminOf(cfg)); live {
		t.Error("a listener with another certificate was believed")
	}
}
