// Package dkimkeys is DKIM keys as the operator handles them: Keygen
// makes a key, adds its selector to the domain's schedule and prints the
// record to publish (`postern dkim keygen`); Status tells which
// selectors sign today and whether DNS holds their records (`postern
// dkim status`), with the gate that holds each one; Activate lets one
// sign from now (`postern dkim activate`). Keys, schedules and records
// are internal/dkim's.
package dkimkeys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postern/internal/dkim"
	"postern/internal/dns"
	"postern/internal/privs"
)

// Keys are the DKIM keys of a data dir.
type Keys struct {
	Dir           string // DATA_DIR/dkim
	ActivateAfter time.Duration
	Resolver      dns.Resolver // for Status
	// Owner receives the keys written as root: the server's user.
	Owner privs.Owner
}

// FindOwner sets Owner, when no configured user did, to whoever owns
// the data dir above Dir (the server, once it has run as root): keys
// written as root go to it.
func (k *Keys) FindOwner() error {
	if k.Owner.IsSet() {
		return nil
	}
	var err error
	k.Owner, err = privs.OwnerOf(filepath.Dir(k.Dir))
	return err
}

// usageError is a problem with what was asked, not with doing it.
type usageError string

func (e usageError) Error() string { return string(e) }

// IsUsage reports whether err is about the request (a missing or bad
// domain, selector or algorithm) rather than about carrying it out.
func IsUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// Keygen makes a key for domain and selector with algo (dkim.AlgoRSA or
// dkim.AlgoEd25519), writes it and its selector, gives them to Owner and
// prints the DNS record to publish, with when it starts signing.
func (k *Keys) Keygen(domain, selector, algo string, out io.Writer) error {
	if domain == "" || selector == "" {
		return usageError("-domain and -selector are required")
	}
	if !dkim.ValidDomain(domain) {
		return usageError(fmt.Sprintf("%q is not a domain name", domain))
	}
	if !dkim.ValidSelector(selector) {
		return usageError(fmt.Sprintf("%q is not a usable selector (letters, digits and '-', one label)", selector))
	}
	key, pemBytes, err := dkim.GenerateKey(algo)
	if err != nil {
		return usageError(err.Error())
	}
	path, err := dkim.WriteKey(k.Dir, domain, selector, pemBytes)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := dkim.AddSelector(k.Dir, domain, dkim.Selector{Name: selector, Algo: algo, Created: now}); err != nil {
		os.Remove(path)
		return err
	}
	// The server reads its keys as its own user, never as root.
	if err := k.Owner.Give(k.Dir); err != nil {
		return err
	}
	rec, err := dkim.PublicRecord(key)
	if err != nil {
		return err
	}
	owned := ""
	if k.Owner.IsSet() {
		owned = ", owned by " + k.Owner.Name
	}
	fmt.Fprintf(out, "Wrote %s (%s, mode 0600%s).\n\n", path, algo, owned)
	fmt.Fprintf(out, "Publish this DNS record now. Postern signs mail from %s with selector %s\n", domain, selector)
	fmt.Fprintf(out, "from %s (after activate_after = %s), once DNS caches have it. When an older\n", now.Add(k.ActivateAfter).Format(time.RFC3339), k.ActivateAfter)
	fmt.Fprintf(out, "selector of the same algorithm signs, it goes on until the server finds this record in DNS;\n")
	fmt.Fprintf(out, "then it stops signing (keep its record a few days more).\n\n")
	fmt.Fprint(out, ZoneRecord(dkim.RecordName(selector, domain), rec))
	return nil
}

// ZoneRecord writes a TXT record in zone-file form, split into strings
// of at most 255 bytes (RFC 1035 3.3.14).
func ZoneRecord(name, value string) string {
	parts := dkim.SplitTXT(value)
	if len(parts) == 1 {
		return fmt.Sprintf("%s. IN TXT \"%s\"\n", name, parts[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s. IN TXT (\n", name)
	for _, p := range parts {
		fmt.Fprintf(&b, "\t\"%s\"\n", p)
	}
	b.WriteString("\t)\n")
	return b.String()
}
