package dns

import (
	"context"
	"errors"
	"net"

	"github.com/miekg/dns"
)

const (
	errNoSuchHost  = "no such host"
	errMisbehaving = "server misbehaving"
	errTimeout     = "i/o timeout"
	errMalformed   = "DNS response contained records which contain invalid names"
	errCNAMELoop   = "CNAME loop or chain too long"
	errNoServers   = "no DNS servers configured"
)

// notFoundError is "the name or this record type does not exist".
func notFoundError(name, server string) *net.DNSError {
	return &net.DNSError{Err: errNoSuchHost, Name: name, Server: server, IsNotFound: true}
}

// rcodeError is the temporary failure for a reply code other than
// NOERROR and NXDOMAIN (SERVFAIL, REFUSED, FORMERR, NOTIMP, ...).
func rcodeError(name, server string, rcode int) *net.DNSError {
	msg := errMisbehaving
	if s, ok := dns.RcodeToString[rcode]; ok {
		msg += " (" + s + ")"
	}
	return &net.DNSError{Err: msg, Name: name, Server: server, IsTemporary: true}
}

// transportError turns a failure to get any reply into a temporary DNS
// error, a timeout when it was one.
func transportError(name, server string, err error) *net.DNSError {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &net.DNSError{Err: errTimeout, Name: name, Server: server, IsTimeout: true, IsTemporary: true, UnwrapErr: err}
	}
	return &net.DNSError{Err: err.Error(), Name: name, Server: server, IsTemporary: true, UnwrapErr: err}
}

// contextError is the error when the caller's ctx ended the lookup.
func contextError(name string, err error) *net.DNSError {
	return &net.DNSError{Err: err.Error(), Name: name, IsTimeout: errors.Is(err, context.DeadlineExceeded),
		IsTemporary: true, UnwrapErr: err}
}
