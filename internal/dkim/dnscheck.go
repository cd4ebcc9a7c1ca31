package dkim

import (
	"context"
	"errors"
	"os"
	"time"
)

// dnsCheckTimeout bounds one record lookup of Run (and so the wait of
// the first round at start).
const dnsCheckTimeout = 10 * time.Second

// Run looks up, at once and then every CheckInterval until ctx ends,
// the DNS records of the selectors waiting to take over (Decide's
// WhyDNS). A record that publishes the selector's key is noted beside
// it (SELECTOR.published) and the selector signs from the next message
// on; until then, and whenever a lookup fails, the older selector keeps
// signing. Without a Resolver, Run returns at once.
func (s *Signer) Run(ctx context.Context) {
	if s.opt.Resolver == nil {
		return
	}
	t := time.NewTicker(s.opt.CheckInterval)
	defer t.Stop()
	for {
		s.checkDNS(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkDNS is one round of Run over every domain of the key directory.
func (s *Signer) checkDNS(ctx context.Context) {
	defer s.checked()
	ents, err := os.ReadDir(s.opt.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "dkim dns check", "dir", s.opt.Dir, "err", err)
		return
	}
	for _, e := range ents {
		if e.IsDir() && ValidDomain(e.Name()) && ctx.Err() == nil {
			s.checkDomain(ctx, e.Name())
		}
	}
}

// checkDomain looks up the records of one domain's waiting selectors.
func (s *Signer) checkDomain(ctx context.Context, domain string) {
	sels, err := ReadSchedule(s.opt.Dir, domain)
	if err != nil {
		s.log.ErrorContext(ctx, "dkim dns check", "domain", domain, "err", err)
		return
	}
	now := s.opt.Now()
	states := Decide(sels, now, s.opt.ActivateAfter)
	for _, sel := range sels {
		if states[sel.Name].Why != WhyDNS {
			continue
		}
		key, err := LoadKey(KeyPath(s.opt.Dir, domain, sel.Name))
		if err == nil {
			lctx, cancel := context.WithTimeout(ctx, dnsCheckTimeout)
			err = CheckPublished(lctx, s.opt.Resolver, domain, sel.Name, key)
			cancel()
			if err == nil {
				err = writePublished(s.opt.Dir, domain, sel.Name, key, now)
			}
		}
		s.noteWaiting(ctx, domain, sel, err)
	}
}

// noteWaiting logs a waiting selector's DNS problem when it changes and,
// once its record matched (err nil), drops the domain's cached keys so
// that the next message sees the takeover.
func (s *Signer) noteWaiting(ctx context.Context, domain string, sel Selector, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := domain + "/" + sel.Name
	if err == nil {
		delete(s.waiting, id)
		delete(s.cache, domain)
		s.log.InfoContext(ctx, "dkim record published", "domain", domain, "selector", sel.Name, "algo", sel.Algo)
		return
	}
	if s.waiting[id] != err.Error() {
		s.waiting[id] = err.Error()
		s.log.WarnContext(ctx, "dkim selector waits for its DNS record", "domain", domain, "selector", sel.Name,
			"algo", sel.Algo, "err", err)
	}
}

// noteSigning logs, on the server's signer, the selector that signs for
// its domain and algorithm when it is not the one logged before, with
// why. s.mu is held.
func (s *Signer) noteSigning(domain string, sel Selector, why string) {
	id := domain + "/" + sel.Algo
	if s.opt.Resolver == nil || s.signing[id] == sel.Name {
		return
	}
	args := []any{"domain", domain, "selector", sel.Name, "algo", sel.Algo, "why", why}
	if old := s.signing[id]; old != "" {
		args = append(args, "replaces", old)
	}
	s.signing[id] = sel.Name
	s.log.Info("dkim selector signs", args...)
}

// checked records that a round of Run is over; after the first, the
// keys cached while waiting for it are dropped.
func (s *Signer) checked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.swept {
		s.swept = true
		clear(s.cache)
	}
}

// errFirstCheck is load's error on the server's signer, for a domain
// with a selector waiting for DNS, until the first round of Run is over.
var errFirstCheck = errors.New("waiting for the first DNS check of a new selector")

// beforeFirstCheck says whether the server's signer must wait for the
// first round of Run before it signs for a domain: until then it does
// not know whether a newer selector took over before the server started
// (its note missing after an upgrade, say), and an older selector whose
// record may be gone must not sign meanwhile. s.mu is held.
func (s *Signer) beforeFirstCheck(states map[string]Decision) bool {
	if s.opt.Resolver == nil || s.swept {
		return false
	}
	for _, d := range states {
		if d.Why == WhyDNS {
			return true
		}
	}
	return false
}
