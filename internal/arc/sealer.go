package arc

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"time"
)

// Keys gives the key a domain seals with: the DKIM signer's active RSA
// key and its selector (dkim.Signer's SealKey).
type Keys interface {
	SealKey(domain string) (selector string, key crypto.Signer, err error)
}

// Sealer seals the mail we send on: it adds our ARC set with the key
// of Domain, our Authentication-Results as its AAR and the chain status
// they record.
type Sealer struct {
	Keys       Keys
	Domain     string // d= of our seals ([arc] seal_domain)
	AuthServID string // our authserv-id (the host name)
	Now        func() time.Time
}

// Seal returns our ARC set for the message read from msg (Seal with
// the sealer's options); the error wraps ErrNotSealed when the message
// must go without one.
func (s *Sealer) Seal(ctx context.Context, msg io.Reader) (string, error) {
	sel, key, err := s.Keys.SealKey(s.Domain)
	if err != nil {
		return "", fmt.Errorf("arc seal: key of %s: %w", s.Domain, err)
	}
	opt := SealOptions{Domain: s.Domain, Selector: sel, Key: key, AuthServID: s.AuthServID}
	if s.Now != nil {
		opt.Time = s.Now()
	}
	return Seal(msg, opt)
}
