// Package tlsutil builds the server's TLS configuration: from the
// administrator's certificate, or from a self-signed one that postern
// generates once into its data directory and reuses afterwards.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"postern/internal/atomicfile"
)

// File names inside the generated certificate's directory.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

const (
	// selfSignedLifetime of a generated certificate; it is regenerated
	// when fewer than renewBefore remain.
	selfSignedLifetime = 5 * 365 * 24 * time.Hour
	renewBefore        = 30 * 24 * time.Hour
)

// Load returns the server TLS configuration. With certFile and keyFile it
// loads them; with neither it uses the self-signed certificate in
// dataDir/tls/{cert.pem,key.pem}, generating it (ECDSA P-256, for
// hostname, localhost, 127.0.0.1 and ::1) when it is missing, expiring or
// does not name hostname. TLS 1.2 is the minimum.
func Load(certFile, keyFile, dataDir, hostname string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case certFile != "" && keyFile != "":
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	case certFile != "" || keyFile != "":
		return nil, errors.New("tls: cert and key must be given together")
	default:
		cert, err = selfSigned(filepath.Join(dataDir, "tls"), hostname)
		if err != nil {
			return nil, err
		}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// SelfSignedPaths returns where Load keeps the generated certificate.
func SelfSignedPaths(dataDir string) (cert, key string) {
	dir := filepath.Join(dataDir, "tls")
	return filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
}

// selfSigned loads the generated certificate from dir, or generates it.
// A lock file serialises processes starting at once.
func selfSigned(dir, hostname string) (tls.Certificate, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: lock: %w", err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)

	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		cert, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: generated certificate: %w", err)
		}
		if usable(cert.Leaf, hostname) {
			return cert, nil
		}
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
	case errors.Is(cerr, fs.ErrNotExist) || errors.Is(kerr, fs.ErrNotExist):
		// Never overwrite half of a pair: someone may have put it there.
		return tls.Certificate{}, fmt.Errorf("tls: only one of %s and %s exists; remove it or add the other", certPath, keyPath)
	default:
		return tls.Certificate{}, fmt.Errorf("tls: %w", errors.Join(cerr, kerr))
	}
	certPEM, keyPEM, err := generate(hostname, time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	// The key first: a crash between the two leaves a pair that does not
	// match, which the next start reports rather than serving.
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// usable reports whether a generated certificate still fits.
func usable(leaf *x509.Certificate, hostname string) bool {
	if leaf == nil || time.Until(leaf.NotAfter) < renewBefore {
		return false
	}
	return hostname == "" || slices.Contains(leaf.DNSNames, hostname)
}

// generate makes a self-signed ECDSA P-256 certificate.
func generate(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	names := []string{"localhost"}
	if hostname != "" && hostname != "localhost" {
		names = []string{hostname, "localhost"}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"postern self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFile writes path atomically with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := atomicfile.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	return nil
}

// Describe returns the version and cipher suite of a TLS connection in
// the form Received headers use, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256";
// "" when no handshake completed.
func Describe(cs tls.ConnectionState) string {
	if !cs.HandshakeComplete {
		return ""
	}
	return versionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite)
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("TLS-0x%04x", v)
}
