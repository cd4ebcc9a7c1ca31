package smtp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Params holds the ESMTP parameters of a MAIL or RCPT command, parsed and
// validated.
type Params struct {
	Size     int64  // MAIL SIZE= (RFC 1870), 0 if absent
	Body     string // MAIL BODY=7BIT|8BITMIME (upper-cased), "" if absent
	SMTPUTF8 bool   // MAIL SMTPUTF8 (RFC 6531)
	Ret      string // MAIL RET=FULL|HDRS (RFC 3461)
	EnvID    string // MAIL ENVID=, xtext-decoded
	Auth     string // MAIL AUTH= (RFC 4954), xtext-decoded; "<>" as sent for "unknown"; "" if absent
	// RequireTLS is MAIL REQUIRETLS (RFC 8689): the message may only
	// travel over verified TLS.
	RequireTLS bool
	Notify     string // RCPT NOTIFY=NEVER or comma list of SUCCESS,FAILURE,DELAY (upper-cased)
	ORCPT      string // RCPT ORCPT=, kept as "rfc822;decoded-address"
}

// ParseOptions says what the current session allows.
type ParseOptions struct {
	SMTPUTF8 bool // RCPT only: the MAIL command of this transaction carried SMTPUTF8, so UTF-8 in paths is allowed
	DSN      bool // the server offered DSN: RET/ENVID/NOTIFY/ORCPT allowed; otherwise they get 555
	// RequireTLS: the server offered REQUIRETLS (only over TLS, RFC
	// 8689 4); otherwise the parameter gets 555.
	RequireTLS bool
}

// Limits of parameter values.
const (
	maxEnvIDLen = 100 // RFC 3461 4.4: ENVID at most 100 characters
	maxORCPTLen = 500 // RFC 3461 4.2: ORCPT at most 500 characters
	maxAuthLen  = 500 // RFC 4954 5: an addr-spec; bounded like ORCPT
)

type paramSet int

const (
	mailParams paramSet = iota
	rcptParams
)

// parseParams parses the space-separated RFC 5321 4.1.2 Mail-parameters
// or Rcpt-parameters in s.
func parseParams(s string, set paramSet, opt ParseOptions) (Params, *Reply) {
	var p Params
	if s == "" {
		return p, nil
	}
	seen := make(map[string]bool, 4)
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			return p, ReplyArgSyntax.With(errors.New("empty parameter (repeated space)"))
		}
		key, val, hasVal := strings.Cut(f, "=")
		if err := checkParamSyntax(key, val, hasVal); err != nil {
			return p, ReplyArgSyntax.With(err)
		}
		key = strings.ToUpper(key)
		if seen[key] {
			return p, ReplyParamValue.With(fmt.Errorf("duplicate parameter %s", key))
		}
		seen[key] = true
		var r *Reply
		switch {
		case set == mailParams && key == "SIZE":
			r = p.setSize(val, hasVal)
		case set == mailParams && key == "BODY":
			r = p.setBody(val, hasVal)
		case set == mailParams && key == "SMTPUTF8":
			if hasVal {
				r = ReplyParamValue.With(errors.New("SMTPUTF8 takes no value"))
			}
			p.SMTPUTF8 = true
		case opt.RequireTLS && set == mailParams && key == "REQUIRETLS":
			if hasVal {
				r = ReplyParamValue.With(errors.New("REQUIRETLS takes no value"))
			}
			p.RequireTLS = true
		case set == mailParams && key == "AUTH":
			r = p.setAuth(val, hasVal)
		case opt.DSN && set == mailParams && key == "RET":
			r = p.setRet(val, hasVal)
		case opt.DSN && set == mailParams && key == "ENVID":
			r = p.setEnvID(val, hasVal)
		case opt.DSN && set == rcptParams && key == "NOTIFY":
			r = p.setNotify(val, hasVal)
		case opt.DSN && set == rcptParams && key == "ORCPT":
			r = p.setORCPT(val, hasVal)
		default:
			// RFC 5321 4.1.1.11: 555 for parameters not recognised or not implemented.
			r = ReplyParamUnknown.With(fmt.Errorf("parameter %s not supported here", key))
		}
		if r != nil {
			return p, r
		}
	}
	return p, nil
}

// checkParamSyntax checks RFC 5321 4.1.2 esmtp-keyword and esmtp-value.
func checkParamSyntax(key, val string, hasVal bool) error {
	if key == "" {
		return errors.New("empty parameter keyword")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Errorf("bad parameter keyword %q", key)
		}
	}
	if !hasVal {
		return nil
	}
	if val == "" {
		return fmt.Errorf("empty value for %s", key)
	}
	for i := 0; i < len(val); i++ {
		// esmtp-value = 1*(%d33-60 / %d62-126)
		if c := val[i]; c < 33 || c > 126 || c == '=' {
			return fmt.Errorf("bad character 0x%02X in value of %s", c, key)
		}
	}
	return nil
}

func (p *Params) setSize(v string, ok bool) *Reply {
	// RFC 1870 3: size-value = 1*20DIGIT. Twenty digits may not fit an
	// int64; such a size is over any limit, so it is kept as the maximum.
	n, err := parseDigits(v)
	if ok && err != nil && len(v) <= 20 && errors.Is(err, errOverflow) {
		n, err = math.MaxInt64, nil
	}
	if !ok || err != nil {
		return ReplyParamValue.With(fmt.Errorf("SIZE=%q: %v", v, err))
	}
	p.Size = n
	return nil
}

func (p *Params) setBody(v string, ok bool) *Reply {
	switch u := strings.ToUpper(v); {
	case !ok:
		return ReplyParamValue.With(errors.New("BODY without value"))
	case u == "7BIT" || u == "8BITMIME": // RFC 6152 2
		p.Body = u
	case u == "BINARYMIME":
		// RFC 3030 3: only when BINARYMIME is offered, which it is not.
		return ReplyParamUnknown.With(errors.New("BODY=BINARYMIME not offered"))
	default:
		return ReplyParamValue.With(fmt.Errorf("BODY=%q", v))
	}
	return nil
}

func (p *Params) setAuth(v string, ok bool) *Reply {
	if !ok || len(v) > maxAuthLen {
		return ReplyParamValue.With(errors.New("AUTH= missing or too long"))
	}
	// RFC 4954 5: AUTH=<> means the submitter is not known.
	if v == "<>" {
		p.Auth = v
		return nil
	}
	d, err := DecodeXtext(v)
	if err != nil || d == "" {
		return ReplyParamValue.With(fmt.Errorf("AUTH=: %v", err))
	}
	p.Auth = d
	return nil
}

func (p *Params) setRet(v string, ok bool) *Reply {
	// RFC 3461 4.3: ret-value = "FULL" / "HDRS"
	u := strings.ToUpper(v)
	if !ok || u != "FULL" && u != "HDRS" {
		return ReplyParamValue.With(fmt.Errorf("RET=%q", v))
	}
	p.Ret = u
	return nil
}

func (p *Params) setEnvID(v string, ok bool) *Reply {
	if !ok || len(v) > maxEnvIDLen {
		return ReplyParamValue.With(errors.New("ENVID missing or longer than 100 characters"))
	}
	d, err := DecodeXtext(v)
	if err != nil {
		return ReplyParamValue.With(fmt.Errorf("ENVID: %w", err))
	}
	p.EnvID = d
	return nil
}

func (p *Params) setNotify(v string, ok bool) *Reply {
	if !ok {
		return ReplyParamValue.With(errors.New("NOTIFY without value"))
	}
	// RFC 3461 4.1: "NEVER" alone, or a list of SUCCESS, FAILURE and DELAY.
	items := strings.Split(strings.ToUpper(v), ",")
	seen := make(map[string]bool, 3)
	for _, it := range items {
		switch it {
		case "NEVER":
			if len(items) != 1 {
				return ReplyParamValue.With(errors.New("NOTIFY=NEVER combined with other values"))
			}
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return ReplyParamValue.With(fmt.Errorf("NOTIFY value %q", it))
		}
		if seen[it] {
			return ReplyParamValue.With(fmt.Errorf("NOTIFY value %q repeated", it))
		}
		seen[it] = true
	}
	p.Notify = strings.Join(items, ",")
	return nil
}

func (p *Params) setORCPT(v string, ok bool) *Reply {
	if !ok || len(v) > maxORCPTLen {
		return ReplyParamValue.With(errors.New("ORCPT missing or longer than 500 characters"))
	}
	// RFC 3461 4.2: orcpt-parameter = "ORCPT=" original-recipient-address,
	// original-recipient-address = addr-type ";" xtext.
	typ, addr, found := strings.Cut(v, ";")
	if !found || !strings.EqualFold(typ, "rfc822") {
		return ReplyParamValue.With(fmt.Errorf("ORCPT address type %q not supported", typ))
	}
	d, err := DecodeXtext(addr)
	if err != nil || d == "" {
		return ReplyParamValue.With(fmt.Errorf("ORCPT: %v", err))
	}
	p.ORCPT = "rfc822;" + d
	return nil
}

var errOverflow = errors.New("number out of range")

// parseDigits parses a non-negative decimal number made of ASCII digits
// only: no sign, no spaces, no overflow.
func parseDigits(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a number: %q", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", errOverflow, s)
	}
	return n, nil
}
