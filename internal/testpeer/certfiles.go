package testpeer

import (
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"testing"

	"postern/internal/testenv"
)

// writeServerCert writes dir/cert.pem (a certificate for host, a name or
// an address, with its chain) and dir/key.pem, both mode 0600, signed by
// a throw-away CA, and returns that CA's PEM for the clients to trust.
func writeServerCert(t testing.TB, dir, host string) (ca string) {
	t.Helper()
	_, cert := serverCert(t, host)
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, filepath.Join(dir, "cert.pem"), string(chain), 0o600)
	testenv.WriteFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})), 0o600)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[1]}))
}
