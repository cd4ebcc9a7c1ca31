package milter

import (
	"net/netip"
	"strconv"
	"strings"

	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// The macros are the ones sendmail sends by default (Milter.macros.*),
// with the values postern knows. Each list is name, value, name, value...

// connectMacros go with the connection information.
func (c *Checker) connectMacros(conn *inbound.Conn) []string {
	ip := conn.IP().Unmap()
	name := clientName(conn)
	m := []string{
		"j", c.hostname,
		"_", name + " [" + ip.String() + "]",
		"{client_addr}", ip.String(),
		"{client_port}", strconv.Itoa(int(conn.Remote.Port())),
		"{client_name}", name,
		"{client_ptr}", name,
		"{client_resolve}", resolveMacro(conn),
		"{daemon_name}", conn.Listener,
		"{daemon_addr}", conn.Local.Addr().Unmap().String(),
		"{daemon_port}", strconv.Itoa(int(conn.Local.Port())),
		"{if_name}", c.hostname,
		"{if_addr}", conn.Local.Addr().Unmap().String(),
		"v", "Postern",
	}
	return m
}

// clientName is the verified name, or the address literal sendmail uses
// for a client without one.
func clientName(conn *inbound.Conn) string {
	if conn.ClientName != "" {
		return conn.ClientName
	}
	return addrLiteral(conn.IP())
}

func addrLiteral(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.String() + "]"
}

func resolveMacro(conn *inbound.Conn) string {
	if conn.ClientName != "" {
		return "OK"
	}
	return "FAIL"
}

// heloMacros describe TLS, as sendmail sends them at HELO.
func heloMacros(conn *inbound.Conn) []string {
	if conn.TLS == "" {
		return []string{"{tls_version}", "", "{cipher}", ""}
	}
	version, cipher, _ := strings.Cut(conn.TLS, " ")
	return []string{"{tls_version}", version, "{cipher}", cipher, "{verify}", "NO"}
}

// mailMacros describe the sender and the authenticated user.
func mailMacros(t *inbound.Txn) []string {
	m := []string{
		"i", t.Env.ID,
		"{mail_mailer}", "esmtp",
		"{mail_host}", t.From.Domain,
		"{mail_addr}", t.From.String(),
	}
	if t.Conn.AuthUser != "" {
		m = append(m, "{auth_authen}", t.Conn.AuthUser, "{auth_type}", t.Conn.AuthMech)
		if t.Params.Auth != "" && t.Params.Auth != "<>" {
			m = append(m, "{auth_author}", t.Params.Auth)
		}
	}
	return m
}

// mailArgs are the ESMTP parameters of MAIL FROM, as sent.
func mailArgs(p smtp.Params) []string {
	var a []string
	if p.Size > 0 {
		a = append(a, "SIZE="+strconv.FormatInt(p.Size, 10))
	}
	if p.Body != "" {
		a = append(a, "BODY="+p.Body)
	}
	if p.SMTPUTF8 {
		a = append(a, "SMTPUTF8")
	}
	if p.Ret != "" {
		a = append(a, "RET="+p.Ret)
	}
	if p.EnvID != "" {
		a = append(a, "ENVID="+smtp.EncodeXtext(p.EnvID))
	}
	if p.Auth != "" {
		if p.Auth == "<>" {
			a = append(a, "AUTH=<>")
		} else {
			a = append(a, "AUTH="+smtp.EncodeXtext(p.Auth))
		}
	}
	return a
}

// rcptMacros describe one recipient.
func rcptMacros(to smtp.Path) []string {
	return []string{
		"{rcpt_mailer}", "esmtp",
		"{rcpt_host}", to.Domain,
		"{rcpt_addr}", to.String(),
	}
}

// rcptArgs are the ESMTP parameters of RCPT TO.
func rcptArgs(r *envelope.Recipient) []string {
	var a []string
	if r.Notify != "" {
		a = append(a, "NOTIFY="+r.Notify)
	}
	if r.ORCPT != "" {
		typ, addr, _ := strings.Cut(r.ORCPT, ";")
		a = append(a, "ORCPT="+typ+";"+smtp.EncodeXtext(addr))
	}
	return a
}

// eomMacros go with the end of the message.
func eomMacros(t *inbound.Txn, msgID string) []string {
	m := []string{"i", t.Env.ID}
	if msgID != "" {
		m = append(m, "{msg_id}", msgID)
	}
	return m
}
