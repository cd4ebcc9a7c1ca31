package tlsutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedGeneratedOnce(t *testing.T) {
	dataDir := t.TempDir()
	cfg, err := Load("", "", dataDir, "mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x", cfg.MinVersion)
	}
	certPath, keyPath := SelfSignedPaths(dataDir)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(keyPath)); di.Mode().Perm() != 0o700 {
		t.Errorf("tls dir mode = %v, want 0700", di.Mode().Perm())
	}
	certPEM, _ := os.ReadFile(certPath)
	keyPEM, _ := os.ReadFile(keyPath)

	leaf := cfg.Certificates[0].Leaf
	if leaf == nil {
		leaf, _ = x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	}
	for _, name := range []string{"mx.example.test", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}

	// A second start reuses the files.
	cfg2, err := Load("", "", dataDir, "mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg2.Certificates[0].Certificate[0], cfg.Certificates[0].Certificate[0]) {
		t.Error("second Load generated a new certificate")
	}
	certPEM2, _ := os.ReadFile(certPath)
	keyPEM2, _ := os.ReadFile(keyPath)
	if !bytes.Equal(certPEM, certPEM2) || !bytes.Equal(keyPEM, keyPEM2) {
		t.Error("files rewritten on reuse")
	}

	// A new hostname gets a certificate that names it.
	cfg3, err := Load("", "", dataDir, "mail.example.test")
	if err != nil {
		t.Fatal(err)
	}
	leaf3, _ := x509.ParseCertificate(cfg3.Certificates[0].Certificate[0])
	if err := leaf3.VerifyHostname("mail.example.test"); err != nil {
		t.Errorf("after a hostname change: %v", err)
	}
}

func TestHalfPairRefused(t *testing.T) {
	dataDir := t.TempDir()
	if _, err := Load("", "", dataDir, "localhost"); err != nil {
		t.Fatal(err)
	}
	_, keyPath := SelfSignedPaths(dataDir)
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("", "", dataDir, "localhost"); err == nil || !strings.Contains(err.Error(), "only one of") {
		t.Errorf("Load with only the cert = %v", err)
	}
}

func TestLoadGivenFiles(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := generate("given.example.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certPath, certPEM, 0o644)
	os.WriteFile(keyPath, keyPEM, 0o600)
	dataDir := t.TempDir()
	cfg, err := Load(certPath, keyPath, dataDir, "other.example.test")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if leaf.Subject.CommonName != "given.example.test" {
		t.Errorf("CN = %q, want the given certificate", leaf.Subject.CommonName)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "tls")); err == nil {
		t.Error("a certificate was generated although files were given")
	}
	if _, err := Load(certPath, "", dataDir, "x"); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := Load(certPath, filepath.Join(dir, "missing.pem"), dataDir, "x"); err == nil {
		t.Error("missing key file accepted")
	}
	if _, err := Load(keyPath, certPath, dataDir, "x"); err == nil {
		t.Error("swapped files accepted")
	}
}

// TestHandshakeAndDescribe runs a real TLS handshake over loopback.
func TestHandshakeAndDescribe(t *testing.T) {
	cfg, err := Load("", "", t.TempDir(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max  uint16
		want string
	}{
		{tls.VersionTLS13, "TLSv1.3 TLS_"},
		{tls.VersionTLS12, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_"},
		{tls.VersionTLS11, ""},
	} {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- "accept: " + err.Error()
				return
			}
			defer c.Close()
			tc := c.(*tls.Conn)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err != nil {
				done <- ""
				return
			}
			done <- Describe(tc.ConnectionState())
		}()
		pool := x509.NewCertPool()
		leaf, _ := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
		pool.AddCert(leaf)
		c, cerr := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tc.max, MinVersion: tls.VersionTLS10})
		if cerr == nil {
			if got := Describe(c.ConnectionState()); !strings.HasPrefix(got, tc.want) || tc.want == "" {
				t.Errorf("client side Describe = %q, want %q...", got, tc.want)
			}
			c.Close()
		} else if tc.want != "" {
			t.Errorf("max %x: dial: %v", tc.max, cerr)
		}
		got := <-done
		ln.Close()
		if tc.want == "" {
			if got != "" || cerr == nil {
				t.Errorf("TLS 1.1 handshake completed (%q)", got)
			}
			continue
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("server Describe = %q, want %q...", got, tc.want)
		}
	}
	if Describe(tls.ConnectionState{}) != "" {
		t.Error("Describe of no handshake is not empty")
	}
}
