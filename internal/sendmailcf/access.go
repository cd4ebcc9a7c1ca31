package sendmailcf

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Entry is one line of a sendmail text map (access, virtusertable ...).
type Entry struct {
	Line  int
	Tag   string // "Connect", "From", "To", ...; "" when untagged
	Key   string // without the tag
	Value string
	Raw   string
}

// ReadMap reads a "key value" text map as makemap takes it: "#" starts a
// comment line, blank lines are skipped, the key ends at the first white
// space. A line without a value is an error for that line (reported in
// errs) but does not stop the reading.
func ReadMap(src string) (entries []Entry, errs []error) {
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		l := strings.TrimSpace(raw)
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.IndexAny(l, " \t")
		if i < 0 {
			errs = append(errs, fmt.Errorf("line %d: %q has no value", n, l))
			continue
		}
		e := Entry{Line: n, Key: l[:i], Value: strings.TrimSpace(l[i:]), Raw: raw}
		if tag, key, ok := strings.Cut(e.Key, ":"); ok && isTag(tag) {
			e.Tag, e.Key = tag, key
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return entries, errs
}

// knownTags are the access map tags of sendmail 8.17 (cf/README).
var knownTags = map[string]bool{
	"Connect": true, "From": true, "To": true, "Spam": true, "GreetPause": true,
	"ClientRate": true, "ClientConn": true, "Srv_Features": true, "Try_TLS": true,
	"TLS_Srv": true, "TLS_Clt": true, "TLS_Rcpt": true, "Compat": true, "Auth": true,
	"CERTISSUER": true, "CERTSUBJECT": true, "QGRP": true, "MTA-STS": true,
	"Cli_Features": true, "Bounce": true,
}

// isTag reports whether s is a tag (a word before the first colon that is
// not part of an IPv6 address).
func isTag(s string) bool {
	if knownTags[s] {
		return true
	}
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-') {
			return false
		}
	}
	// "IPv6:..." keys in sendmail are addresses, not tags.
	return !strings.EqualFold(s, "IPv6") && c0Upper(s)
}

func c0Upper(s string) bool { return s[0] >= 'A' && s[0] <= 'Z' }

// ReadList reads a one-item-per-line file (relay-domains,
// local-host-names): "#" comments, blank lines skipped, items split on
// white space.
func ReadList(src string) []Setting {
	var out []Setting
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		for _, f := range strings.Fields(l) {
			out = append(out, Setting{Value: f, Line: n})
		}
	}
	return out
}

// NetworkKey classifies an access map key as sendmail does for Connect:
// lookups: an IPv4 address or octet prefix ("192.168.2"), an extension
// CIDR ("192.168.2.0/24"), an IPv6 address or prefix ("IPv6:2001:db8"), or
// a host/domain name. bits is the prefix length for addresses (32 for a
// full IPv4 address), -1 for names.
func NetworkKey(key string) (isAddr bool, bits int) {
	k := key
	if strings.HasPrefix(strings.ToLower(k), "ipv6:") {
		k = k[5:]
		if _, n, err := net.ParseCIDR(k); err == nil {
			ones, _ := n.Mask.Size()
			return true, ones
		}
		if ip := net.ParseIP(k); ip != nil {
			return true, 128
		}
		// A prefix such as 2001:db8 counts 16 bits per group.
		return true, 16 * (strings.Count(k, ":") + 1)
	}
	if _, n, err := net.ParseCIDR(k); err == nil {
		ones, _ := n.Mask.Size()
		return true, ones
	}
	if ip := net.ParseIP(k); ip != nil {
		if ip.To4() != nil {
			return true, 32
		}
		return true, 128
	}
	parts := strings.Split(k, ".")
	if len(parts) > 0 && len(parts) <= 4 {
		allNum := true
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 {
				allNum = false
				break
			}
		}
		if allNum {
			return true, 8 * len(parts)
		}
	}
	return false, -1
}
