// Package envelope holds what SMTP says about a message apart from its
// content: the sender, the recipients and the facts of the session that
// brought it.
package envelope

import (
	"crypto/rand"
	"encoding/base32"
	"net/netip"
	"strings"
	"time"
)

// Envelope is one message as accepted: who sent it, to whom, and how it
// arrived. Addresses are in their normalised form ("" is the null sender).
type Envelope struct {
	ID       string // queue id, unique on this host
	From     string // reverse-path without angle brackets; "" for <>
	Rcpts    []Recipient
	Received time.Time // when the 250 for DATA was sent

	ClientIP   netip.Addr // the peer's address; invalid for local submission
	ClientName string     // verified reverse DNS name, or ""
	Helo       string     // HELO/EHLO argument as sent
	AuthUser   string     // SASL authenticated user, or ""
	TLS        string     // e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"; "" when plaintext
	Listener   string     // name of the listener ("mta", "submission", ...)

	SMTPUTF8 bool // SMTPUTF8 was given on MAIL FROM
	// RequireTLS: MAIL FROM carried REQUIRETLS (RFC 8689): the message
	// leaves only over verified TLS to servers that offer REQUIRETLS.
	RequireTLS bool
	// TLSOptional: the message says "TLS-Required: No" (RFC 8689 5): the
	// recipient domains' published TLS policies (DANE, MTA-STS) do not
	// hold it back. Never set together with RequireTLS.
	TLSOptional bool
	Body        string // BODY= parameter: "", "7BIT", "8BITMIME"
	DSNRet      string // RET=FULL|HDRS, or ""
	EnvID       string // ENVID=, xtext-decoded, or ""
	Size        int64  // bytes of the message as stored

	Folder string // local delivery into this Maildir folder ("Junk"), "" for the inbox
	Hold   bool   // kept in the queue until an admin releases it
}

// Recipient is one forward-path with its DSN parameters.
type Recipient struct {
	Addr   string // normalised address
	ORCPT  string // original recipient as given by ORCPT=, or ""
	Notify string // NOTIFY= value ("NEVER", "SUCCESS,FAILURE,DELAY"...), or ""
	// Forwarded: a local address sent the message on to this one (an
	// alias, .forward, virtusertable or list), so that it leaves with an
	// SRS envelope sender.
	Forwarded bool
}

var idEncoding = base32.NewEncoding("0123456789BCDFGHJKLMNPQRSTVWXYZA").WithPadding(base32.NoPadding)

// NewID returns a fresh queue id: a time prefix so that ids sort by age,
// then 10 random bytes.
func NewID(now time.Time) string {
	var b [15]byte
	t := uint64(now.UnixMicro())
	for i := 4; i >= 0; i-- { // 40 bits of time at 1/1024 s
		b[i] = byte(t >> (10 + 8*uint(4-i)))
	}
	_, _ = rand.Read(b[5:])
	return strings.ToUpper(idEncoding.EncodeToString(b[:]))
}
