package dkim

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// SignOptions configure a Signer.
type SignOptions struct {
	Dir           string           // where keys live: data_dir/dkim (DIR/DOMAIN/SELECTOR.key)
	ActivateAfter time.Duration    // delay from a selector's creation to its first use; 0 means DefaultActivateAfter
	Reload        time.Duration    // how long a domain's keys are kept before the directory is read again; 0 means 1 minute
	Now           func() time.Time // clock; nil means time.Now
	// Resolver makes this the server's signer: Run looks up the records
	// of selectors waiting for DNS, notes those that match (so that
	// every signer, and the next start, sees them) and takeovers are
	// logged. Without it a newer selector takes over only once that
	// note exists or it is forced.
	Resolver TXTResolver
	// CheckInterval is how often Run looks up the records still
	// waiting; 0 means DefaultCheckInterval.
	CheckInterval time.Duration
}

// DefaultCheckInterval is how often the server looks up the DNS records
// of selectors waiting to take over, when the option is not set.
const DefaultCheckInterval = 5 * time.Minute

// signedHeaders are the fields signed when present. Each is also
// oversigned (named once more than it occurs), so that nobody can add
// another instance later without breaking the signature (RFC 6376 8.15).
var signedHeaders = []string{
	"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-Disposition", "Content-ID", "Content-Description",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive", "Autocrypt", "Feedback-ID",
}

// Signer signs outgoing mail with the active selectors of the From
// domain. It is safe for concurrent use.
type Signer struct {
	log *slog.Logger
	opt SignOptions

	mu      sync.Mutex
	cache   map[string]*domainKeys
	signing map[string]string // domain/algo: the selector logged as signing
	waiting map[string]string // domain/selector: the DNS problem last logged
	swept   bool              // a round of Run is over

	states sync.Pool // *signState
}

type domainKeys struct {
	loaded time.Time
	keys   []activeKey
	err    error
}

type activeKey struct {
	selector string
	key      crypto.Signer
}

// NewSigner returns a Signer reading keys from opt.Dir.
func NewSigner(log *slog.Logger, opt SignOptions) *Signer {
	if opt.ActivateAfter == 0 {
		opt.ActivateAfter = DefaultActivateAfter
	}
	if opt.Reload == 0 {
		opt.Reload = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.CheckInterval == 0 {
		opt.CheckInterval = DefaultCheckInterval
	}
	return &Signer{log: log, opt: opt, cache: map[string]*domainKeys{}, signing: map[string]string{}, waiting: map[string]string{}}
}

// HasKey reports whether the domain has an active selector, that is
// whether Sign would sign its mail.
func (s *Signer) HasKey(domain string) bool {
	keys, err := s.keys(strings.ToLower(strings.TrimSuffix(domain, ".")))
	return err == nil && len(keys) > 0
}

// Sign returns the DKIM-Signature header fields (CRLF-terminated, ready
// to prepend) for a message from fromDomain, one per active selector
// (RSA and Ed25519 both when both exist), signed relaxed/relaxed. It
// returns "" and no error when the domain has no active key. msg is the
// message as it will be sent, with CRLF line ends.
func (s *Signer) Sign(ctx context.Context, fromDomain string, msg io.Reader) (string, error) {
	domain := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	if !ValidDomain(domain) {
		return "", nil
	}
	keys, err := s.keys(domain)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", nil
	}
	out, err := s.signMessage(domain, keys, msg, s.opt.Now())
	if err != nil {
		return "", err
	}
	s.log.DebugContext(ctx, "dkim signed", "domain", domain, "signatures", len(keys))
	return out, nil
}

// keys returns the active keys of a domain, reading the directory again
// when the cached copy is older than opt.Reload.
func (s *Signer) keys(domain string) ([]activeKey, error) {
	now := s.opt.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dk, ok := s.cache[domain]; ok && now.Sub(dk.loaded) < s.opt.Reload && !now.Before(dk.loaded) {
		return dk.keys, dk.err
	}
	keys, err := s.load(domain, now)
	if err != nil {
		s.log.Error("dkim keys", "domain", domain, "err", err)
	}
	s.cache[domain] = &domainKeys{loaded: now, keys: keys, err: err}
	return keys, err
}

func (s *Signer) load(domain string, now time.Time) ([]activeKey, error) {
	if _, err := os.Stat(filepath.Join(s.opt.Dir, domain)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	sels, err := ReadSchedule(s.opt.Dir, domain)
	if err != nil {
		return nil, err
	}
	states := Decide(sels, now, s.opt.ActivateAfter)
	if s.beforeFirstCheck(states) {
		return nil, fmt.Errorf("%s: %w", domain, errFirstCheck)
	}
	var keys []activeKey
	for _, sel := range sels {
		if states[sel.Name].State != StateActive {
			continue
		}
		k, err := LoadKey(KeyPath(s.opt.Dir, domain, sel.Name))
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PrivateKey); ok && rk.N.BitLen() < minSignBits {
			// RFC 8301 3.2: signers SHOULD use 2048 bits; postern
			// does not sign with less.
			return nil, fmt.Errorf("%s: RSA key of %d bits, want at least %d", KeyPath(s.opt.Dir, domain, sel.Name), rk.N.BitLen(), minSignBits)
		}
		keys = append(keys, activeKey{selector: sel.Name, key: k})
		s.noteSigning(domain, sel, states[sel.Name].Why)
	}
	return keys, nil
}
