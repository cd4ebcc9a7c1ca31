// Package spf checks the Sender Policy Framework (RFC 7208) for one
// client address and envelope sender. The mechanisms are evaluated by
// blitiri.com.ar/go/spf; postern adds a whole-record syntax check, the
// exp= explanation, the null-sender rule and the header formatting.
package spf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	libspf "blitiri.com.ar/go/spf"

	pdns "postern/internal/dns"
)

// The results of a check (RFC 7208 2.6).
const (
	None      = "none"
	Neutral   = "neutral"
	Pass      = "pass"
	Fail      = "fail"
	SoftFail  = "softfail"
	TempError = "temperror"
	PermError = "permerror"
)

// Identities checked (RFC 7208 2.3, 2.4).
const (
	IdentityMailFrom = "mailfrom"
	IdentityHelo     = "helo"
)

// LookupLimit is the DNS lookup budget of one evaluation. RFC 7208
// 4.6.4: at most 10 mechanisms or modifiers that query DNS.
const LookupLimit = 10

// VoidLookupLimit is how many lookups may come back empty. RFC 7208
// 4.6.4: the void lookup limit SHOULD default to two.
const VoidLookupLimit = 2

// Result is the outcome of one SPF check.
type Result struct {
	Result      string     // one of None, Neutral, Pass, Fail, SoftFail, TempError, PermError
	Explanation string     // the domain's exp= text for a fail, "" when it has none
	Domain      string     // the domain whose policy was checked
	Identity    string     // IdentityMailFrom or IdentityHelo
	Sender      string     // the checked sender: MAIL FROM, or postmaster@HELO for the null sender
	Helo        string     // the HELO/EHLO name given by the client
	IP          netip.Addr // the client address
	Err         error      // the cause, for the log only; may be set on any result
}

// Check evaluates the SPF policy for a client at ip that said HELO helo
// and MAIL FROM:<sender>. For the null sender (sender == "") the HELO
// identity is checked instead, as postmaster@helo (RFC 7208 2.4); a
// caller wanting the separate HELO check of RFC 7208 2.3 passes "" as
// the sender.
func Check(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, ip netip.Addr, helo, sender string) Result {
	ip = ip.Unmap() // RFC 7208 5: an IPv4-mapped client is an IPv4 client
	helo = strings.TrimSuffix(helo, ".")
	r := Result{Identity: IdentityMailFrom, Helo: helo, IP: ip, Sender: sender}
	if sender == "" {
		// RFC 7208 2.4: with a null reverse-path, check the HELO identity
		// as the mailbox postmaster@helo.
		r.Identity = IdentityHelo
		r.Sender = "postmaster@" + helo
	}
	local, domain := splitSender(r.Sender)
	if local == "" {
		// RFC 7208 4.3: a sender without a local-part uses "postmaster".
		r.Sender = "postmaster@" + domain
	}
	r.Domain = strings.TrimSuffix(domain, ".")
	r.Result, r.Explanation, r.Err = evaluate(ctx, resolver, log, ip, helo, r.Sender, r.Domain)
	log.DebugContext(ctx, "spf", "result", r.Result, "domain", r.Domain, "identity", r.Identity,
		"ip", ip.String(), "err", r.Err)
	return r
}

func evaluate(ctx context.Context, resolver pdns.Resolver, log *slog.Logger, ip netip.Addr, helo, sender, domain string) (string, string, error) {
	if !ip.IsValid() {
		return PermError, "", errors.New("no client address")
	}
	// RFC 7208 4.3: a malformed domain (not a multi-label name, an empty
	// label, a label over 63 octets) gives "none" without any query.
	if err := checkDomainName(domain); err != nil {
		return None, "", err
	}
	lr := &lookupRecorder{Resolver: resolver, txt: map[string][]string{}}
	opts := []libspf.Option{
		libspf.WithContext(ctx),
		libspf.WithResolver(lr),
		libspf.OverrideLookupLimit(LookupLimit),
		libspf.OverrideVoidLookupLimit(VoidLookupLimit),
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		opts = append(opts, libspf.WithTraceFunc(func(f string, a ...any) {
			log.DebugContext(ctx, "spf trace", "step", fmt.Sprintf(f, a...))
		}))
	}
	res, err := libspf.CheckHostWithSender(ip.AsSlice(), helo, sender, opts...)
	if lr.syntaxErr != nil {
		// RFC 7208 4.6: a syntax error anywhere in a record that had to
		// be evaluated is a permerror, whatever matched before it.
		return PermError, "", lr.syntaxErr
	}
	if errors.Is(err, libspf.ErrMatchedAll) || errors.Is(err, libspf.ErrMatchedA) || errors.Is(err, libspf.ErrMatchedIP) ||
		errors.Is(err, libspf.ErrMatchedMX) || errors.Is(err, libspf.ErrMatchedPTR) || errors.Is(err, libspf.ErrMatchedExists) ||
		errors.Is(err, libspf.ErrNoResult) {
		err = nil
	}
	result := string(res)
	var exp string
	if result == Fail {
		env := &macroEnv{ctx: ctx, resolver: resolver, ip: ip, sender: sender, helo: helo, domain: domain, now: time.Now()}
		exp = explain(env, lr)
	}
	return result, exp, err
}

// checkDomainName applies RFC 7208 4.3 to the domain to check.
func checkDomainName(d string) error {
	if d == "" {
		return errors.New("empty domain")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q is not fully qualified", d)
	}
	if strings.HasPrefix(d, "[") {
		return fmt.Errorf("%q is an address literal, not a domain", d)
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("domain %q has an empty label", d)
		}
		// RFC 1035 2.3.4: labels are 63 octets or less.
		if len(l) > 63 {
			return fmt.Errorf("domain %q has a label over 63 octets", d)
		}
	}
	return nil
}

// lookupRecorder passes queries to the resolver and checks the syntax of
// every SPF record the library fetches; it keeps the TXT answers so that
// the explanation can follow the same records without querying again.
type lookupRecorder struct {
	pdns.Resolver
	txt       map[string][]string
	syntaxErr error
}

func (l *lookupRecorder) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := l.Resolver.LookupTXT(ctx, name)
	if err != nil {
		return txts, err
	}
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	l.txt[key] = txts
	var recs []string
	for _, t := range txts {
		if IsRecord(t) {
			recs = append(recs, t)
		}
	}
	// RFC 7208 4.5: more than one record is a permerror, which the
	// library reports itself; only a single record is checked here.
	if len(recs) == 1 && l.syntaxErr == nil {
		if _, perr := ParseRecord(recs[0]); perr != nil {
			l.syntaxErr = fmt.Errorf("SPF record of %s: %w", key, perr)
		}
	}
	return txts, nil
}

// record returns the SPF record of a name as fetched during the check.
func (l *lookupRecorder) record(name string) (*Record, bool) {
	txts, ok := l.txt[strings.ToLower(strings.TrimSuffix(name, "."))]
	if !ok {
		return nil, false
	}
	var found *Record
	for _, t := range txts {
		if IsRecord(t) {
			if found != nil {
				return nil, false
			}
			rec, err := ParseRecord(t)
			if err != nil {
				return nil, false
			}
			found = rec
		}
	}
	return found, found != nil
}
