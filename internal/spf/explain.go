package spf

import (
	"strings"
)

// explain finds the explanation for a fail: the exp= of the record that
// produced the result, following redirect= (RFC 7208 6.2: the exp= of the
// record redirected from is not used; that of an included one never is).
// Any problem means no explanation (RFC 7208 6.2).
func explain(env *macroEnv, lr *lookupRecorder) string {
	domain := env.domain
	for hops := 0; hops <= LookupLimit; hops++ {
		rec, ok := lr.record(domain)
		if !ok {
			return ""
		}
		if rec.Redirect != "" && !hasAll(rec) {
			env.domain = domain
			target, err := env.expand(rec.Redirect, false)
			target = strings.TrimSuffix(target, ".")
			if err == nil {
				if _, fetched := lr.txt[strings.ToLower(target)]; fetched {
					// RFC 7208 6.1: redirect is used only when no
					// mechanism matched; the library fetched its target,
					// so the result came from there.
					domain = target
					continue
				}
			}
		}
		if rec.Exp == "" {
			return ""
		}
		env.domain = domain
		return expandExp(env, rec.Exp)
	}
	return ""
}

// hasAll reports whether a record has an "all" mechanism, which makes any
// redirect= in it unused (RFC 7208 6.1).
func hasAll(rec *Record) bool {
	q, _ := rec.All()
	return q != 0
}

// expandExp fetches and expands the explanation (RFC 7208 6.2): the
// domain-spec is expanded, its TXT record fetched (one record exactly)
// and its text expanded with the exp-only macros allowed.
func expandExp(env *macroEnv, spec string) string {
	name, err := env.expand(spec, false)
	if err != nil || name == "" {
		return ""
	}
	name = truncateDomain(name)
	txts, err := env.resolver.LookupTXT(env.ctx, name)
	if err != nil || len(txts) != 1 {
		return ""
	}
	if _, err := scanMacroString(txts[0], true); err != nil {
		return ""
	}
	text, err := env.expand(txts[0], true)
	if err != nil {
		return ""
	}
	// Keep it printable and short: the text may end up in an SMTP reply,
	// whose lines are limited (RFC 5321 4.5.3.1.5).
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(text, ""))
	if len(text) > maxExplanation {
		text = strings.ToValidUTF8(text[:maxExplanation], "")
	}
	return text
}

// maxExplanation bounds the explanation text kept from a domain's exp=.
const maxExplanation = 256

// truncateDomain shortens an expanded name over 253 characters by
// dropping labels from the left (RFC 7208 7.3).
func truncateDomain(name string) string {
	for len(strings.TrimSuffix(name, ".")) > 253 {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return name
		}
		name = name[i+1:]
	}
	return name
}
