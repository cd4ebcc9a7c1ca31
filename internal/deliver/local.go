package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"postern/internal/envelope"
	"postern/internal/smtp"
)

// Local delivers to local mailboxes; it is a spool.Courier.
type Local struct {
	// Mailbox is the path template of a recipient's mailbox, such as
	// "/var/mail/{domain}/{user}/". {user} is the local part lower-cased,
	// {domain} the domain lower-cased. A trailing slash means a Maildir,
	// anything else an mbox file. Local parts and domains that could make
	// an odd path (quoted local parts, "/", "..", control characters, a
	// leading dot) are refused with a permanent error.
	Mailbox string
	// IsLocal reports whether mail for domain is delivered here. Other
	// recipients get a temporary error, "remote delivery not configured",
	// and stay queued. nil means every domain is local.
	IsLocal func(domain string) bool
	Log     *slog.Logger
}

var (
	replyNotConfigured = &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: "remote delivery not configured"}
	replyBadMailbox    = &smtp.Reply{Code: 550, Enhanced: "5.1.3", Text: "mailbox name not allowed"}
	replyLocalError    = &smtp.Reply{Code: 451, Enhanced: "4.2.0", Text: "local delivery failed, will try again"}
)

// Deliver writes the message to each recipient's mailbox, preceded by
// Return-Path (RFC 5321 4.4: the delivery system records the reverse-path)
// and Delivered-To. Each copy is named after the queue id and the
// recipient address (the Maildir file name; an X-Postern-Delivery header
// in an mbox), so a second delivery of the same message to the same
// recipient after a crash finds the first one and writes nothing.
func (l *Local) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	errs := make([]error, len(rcpts))
	for i, r := range rcpts {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = l.deliverOne(ctx, env, r, body)
		var reply *smtp.Reply
		if errors.As(errs[i], &reply) && reply.Err != nil && reply.Text == replyLocalError.Text {
			// The queue logs every outcome; this adds the mailbox error.
			log.WarnContext(ctx, "local delivery failed", "id", env.ID, "rcpt", r.Addr, "err", reply.Err)
		}
	}
	return errs
}

func (l *Local) deliverOne(ctx context.Context, env *envelope.Envelope, r envelope.Recipient, body io.ReaderAt) error {
	at := strings.LastIndexByte(r.Addr, '@')
	if at < 0 {
		return &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: replyNotConfigured.Text,
			Err: fmt.Errorf("recipient %q has no domain", r.Addr)}
	}
	user, domain := r.Addr[:at], mailboxDomain(r.Addr[at+1:])
	if l.IsLocal != nil && !l.IsLocal(domain) {
		return &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: replyNotConfigured.Text,
			Err: fmt.Errorf("no route to %s", domain)}
	}
	path, err := l.MailboxPath(user, domain)
	if err != nil {
		return err
	}
	name := deliveryName(env, r.Addr)
	hdr := "Return-Path: <" + env.From + ">\r\nDelivered-To: " + r.Addr + "\r\n"
	if strings.HasSuffix(path, "/") {
		if env.Folder != "" {
			// Maildir++: a folder is the Maildir <maildir>/.<name>/ (a
			// quarantined message goes to .Junk). An mbox has no folders:
			// its mail stays in the one file.
			if !validFolder(env.Folder) {
				return &smtp.Reply{Code: replyLocalError.Code, Enhanced: replyLocalError.Enhanced, Text: replyLocalError.Text,
					Err: fmt.Errorf("folder name %q not allowed", env.Folder)}
			}
			path += "." + env.Folder + "/"
		}
		content := io.MultiReader(strings.NewReader(hdr), io.NewSectionReader(body, 0, env.Size))
		err = maildir(path, name, content, envelope.IsRedelivery(ctx))
	} else {
		// An mbox has no file names: the copy carries its name in a
		// header, looked for when the message may be there already.
		mark := "X-Postern-Delivery: " + name
		hdr += mark + "\r\n"
		content := func() io.Reader {
			return io.MultiReader(strings.NewReader(hdr), io.NewSectionReader(body, 0, env.Size))
		}
		if !envelope.IsRedelivery(ctx) {
			mark = ""
		}
		err = mbox(path, env.From, env.Received, content, mark)
	}
	if err != nil {
		return &smtp.Reply{Code: replyLocalError.Code, Enhanced: replyLocalError.Enhanced, Text: replyLocalError.Text, Err: err}
	}
	return nil
}

// MailboxPath expands the Mailbox template for a local part and domain,
// or returns a permanent error for names that could make an unsafe path.
func (l *Local) MailboxPath(user, domain string) (string, error) {
	user = strings.ToLower(user)
	domain = mailboxDomain(domain)
	if err := checkUser(user); err != nil {
		return "", &smtp.Reply{Code: replyBadMailbox.Code, Enhanced: replyBadMailbox.Enhanced, Text: replyBadMailbox.Text, Err: err}
	}
	if err := checkDomain(domain); err != nil {
		return "", &smtp.Reply{Code: replyBadMailbox.Code, Enhanced: replyBadMailbox.Enhanced, Text: replyBadMailbox.Text, Err: err}
	}
	if l.Mailbox == "" {
		return "", &smtp.Reply{Code: 451, Enhanced: "4.3.5", Text: "local delivery not configured", Err: fmt.Errorf("no mailbox template")}
	}
	return strings.NewReplacer("{user}", user, "{domain}", domain).Replace(l.Mailbox), nil
}

// checkUser accepts a local part as one path component: dot-atom
// characters (RFC 5322 3.2.3) and UTF-8 letters and digits, no leading
// dot, no "..". Quoted local parts are refused.
func checkUser(u string) error {
	if u == "" {
		return fmt.Errorf("empty local part")
	}
	if !utf8.ValidString(u) {
		return fmt.Errorf("local part is not UTF-8")
	}
	if u[0] == '.' || strings.Contains(u, "..") {
		return fmt.Errorf("local part %q would make an odd path", u)
	}
	for _, c := range u {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-=?^_`{|}~.", c):
		case c >= 0x80 && (unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)):
		default:
			return fmt.Errorf("local part %q holds %s, not allowed in a mailbox name", u, strconv.QuoteRune(c))
		}
	}
	return nil
}

// checkDomain accepts an ASCII domain name (A-labels) as one path
// component.
func checkDomain(d string) error {
	if d == "" || d[0] == '.' || d[0] == '-' || strings.Contains(d, "..") {
		return fmt.Errorf("domain %q would make an odd path", d)
	}
	if d[0] == '[' {
		// RFC 5321 4.1.3: an address literal such as [192.0.2.1] or
		// [IPv6:2001:db8::1], delivered here when it is one of ours.
		if len(d) < 3 || d[len(d)-1] != ']' || strings.Trim(d[1:len(d)-1], "0123456789abcdefipv.:") != "" {
			return fmt.Errorf("domain %q would make an odd path", d)
		}
		return nil
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("domain %q holds %q, not allowed in a mailbox name", d, c)
		}
	}
	return nil
}

// mailboxDomain is the form of a recipient domain used for IsLocal and
// the mailbox path: lower case, international names as A-labels (so that
// one domain has one mailbox directory however it was written).
func mailboxDomain(d string) string {
	if n, err := smtp.NormalizeDomain(d); err == nil {
		return n
	}
	return strings.ToLower(d) // an address literal, or refused by checkDomain
}

// deliveryName names env's copy for rcpt (the Maildir file name): the arrival time
// (Maildir names start with one), the queue id and a digest of the
// recipient, the same every time the message is delivered.
func deliveryName(env *envelope.Envelope, rcpt string) string {
	sum := sha256.Sum256([]byte(rcpt))
	return strconv.FormatInt(env.Received.Unix(), 10) + "." + env.ID + "_" + hex.EncodeToString(sum[:6]) + ".postern"
}

// validFolder accepts a Maildir++ folder name of one level: letters,
// digits, '-' and '_'.
func validFolder(f string) bool {
	if f == "" || len(f) > 64 {
		return false
	}
	for _, c := range f {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
