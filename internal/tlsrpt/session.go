package tlsrpt

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Session is how TLS went in one delivery session (or why the server was
// not used), as the Store counts it.
type Session struct {
	Time   time.Time
	Policy Policy // the policy applied; Policy.Domain is the policy domain
	// Result is "" for a success, else an RFC 8460 result type (one it
	// does not define counts as validation-failure).
	Result      string
	MXHost      string     // the receiving server's name
	ReceivingIP netip.Addr // its address, when known
	SendingIP   netip.Addr // ours, when known
	Reason      string     // the error, for failure-reason-code
	Info        string     // a URI with more information, or ""
}

// Bounds of what one failure row keeps.
const (
	maxNameLen   = 255
	maxReasonLen = 256
	maxInfoLen   = 512
)

// detail is the failure row of a failed session, its fields bounded.
func (s Session) detail() FailureDetail {
	res := s.Result
	if !KnownResult(res) {
		res = ResultValidationFailure
	}
	d := FailureDetail{ResultType: res, ReceivingMXHostname: cut(strings.ToLower(strings.TrimSuffix(s.MXHost, ".")), maxNameLen),
		FailureReasonCode: cut(s.Reason, maxReasonLen)}
	if s.ReceivingIP.IsValid() {
		d.ReceivingIP = s.ReceivingIP.Unmap().String()
	}
	if s.SendingIP.IsValid() {
		d.SendingMTAIP = s.SendingIP.Unmap().String()
	}
	if len(s.Info) <= maxInfoLen {
		d.AdditionalInformation = s.Info
	}
	return d
}

// rowKey is what tells a failure row from another of the same policy.
func (d FailureDetail) rowKey() string {
	return d.ResultType + "\x00" + d.ReceivingMXHostname + "\x00" + d.ReceivingIP + "\x00" + d.SendingMTAIP
}

// same reports whether two policies are one.
func (p Policy) same(q Policy) bool {
	return p.Type == q.Type && p.Domain == q.Domain && slices.Equal(p.String, q.String) && slices.Equal(p.MXHost, q.MXHost)
}

// size is about what the policy takes in memory and on disk.
func (p Policy) size() int {
	n := 64 + len(p.Type) + len(p.Domain)
	for _, s := range append(slices.Clip(p.String), p.MXHost...) {
		n += len(s) + 16
	}
	return n
}

// size is about what the row takes in memory and on disk.
func (d FailureDetail) size() int {
	return 96 + len(d.rowKey()) + len(d.AdditionalInformation) + len(d.FailureReasonCode)
}

// cut shortens s to at most n bytes of valid UTF-8.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SourceAddr is the local address the system would send from to reach
// ip (the sending-mta-ip of a report), or the zero Addr when it cannot
// tell. It connects a UDP socket, which sends nothing.
func SourceAddr(ip netip.Addr) netip.Addr {
	if !ip.IsValid() {
		return netip.Addr{}
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 25)))
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	a, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}
	}
	return a.AddrPort().Addr().Unmap()
}
