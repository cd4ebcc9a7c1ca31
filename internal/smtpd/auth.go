package smtpd

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"postern/internal/smtp"
)

var (
	replyAuthOK      = &smtp.Reply{Code: 235, Enhanced: "2.7.0", Text: "authentication successful"}
	replyAuthFailed  = &smtp.Reply{Code: 535, Enhanced: "5.7.8", Text: "authentication credentials invalid"}
	replyAuthCancel  = &smtp.Reply{Code: 501, Enhanced: "5.0.0", Text: "authentication cancelled"}
	replyAuthBadB64  = &smtp.Reply{Code: 501, Enhanced: "5.5.2", Text: "cannot decode response"}
	replyAuthUnavail = &smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "AUTH not available on this port"}
	errAuthCancelled = errors.New("cancelled")
)

// auth handles AUTH PLAIN and AUTH LOGIN (RFC 4954, RFC 4616).
func (c *conn) auth(arg string) {
	switch {
	case c.mode == ModeLocal:
		// The local user is known from the socket; no password here.
		c.fail(replyAuthUnavail)
		return
	case !c.tls:
		// Never take a password in plaintext, on any listener.
		c.fail(smtp.ReplyEncryptionNeeded)
		return
	case c.mode == ModeMTA, c.features().NoAUTH:
		c.fail(replyAuthUnavail)
		return
	case !c.ehlo:
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "send EHLO first"})
		return
	case c.authUser != "":
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "already authenticated"})
		return
	case c.inMail:
		c.fail(&smtp.Reply{Code: 503, Enhanced: "5.5.1", Text: "AUTH not allowed during a mail transaction"})
		return
	}
	mech, initial, _ := strings.Cut(arg, " ")
	var user, pass string
	var rep *smtp.Reply
	switch strings.ToUpper(mech) {
	case "PLAIN":
		user, pass, rep = c.authPlain(initial)
	case "LOGIN":
		user, pass, rep = c.authLogin(initial)
	default:
		c.fail(&smtp.Reply{Code: 504, Enhanced: "5.5.4", Text: "unrecognized authentication mechanism"})
		return
	}
	if rep != nil {
		if rep != errConnReply {
			c.fail(rep)
		}
		return
	}
	ctx := context.WithValue(c.ctx, authMechKey{}, strings.ToUpper(mech))
	if rep := c.sess.Auth(ctx, user, pass); rep != nil {
		c.fail(rep)
		return
	}
	c.authUser = user
	c.reply(replyAuthOK)
}

type authMechKey struct{}

// AuthMechanism returns the SASL mechanism ("PLAIN", "LOGIN") of the AUTH
// command a Session.Auth call comes from, or "".
func AuthMechanism(ctx context.Context) string {
	m, _ := ctx.Value(authMechKey{}).(string)
	return m
}

// errConnReply marks a connection failure during the exchange (already
// handled).
var errConnReply = &smtp.Reply{Code: 421}

func (c *conn) authPlain(initial string) (user, pass string, rep *smtp.Reply) {
	resp := initial
	if resp == "" {
		var err error
		if resp, err = c.challenge(""); err != nil {
			return "", "", c.challengeErr(err)
		}
	}
	b, rep := decodeAuth(resp)
	if rep != nil {
		return "", "", rep
	}
	// RFC 4616 2: [authzid] NUL authcid NUL passwd.
	parts := bytes.Split(b, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", replyAuthFailed
	}
	if len(parts[0]) > 0 && !bytes.Equal(parts[0], parts[1]) {
		return "", "", replyAuthFailed // no proxy authorization
	}
	return string(parts[1]), string(parts[2]), nil
}

func (c *conn) authLogin(initial string) (user, pass string, rep *smtp.Reply) {
	var ub, pb []byte
	resp := initial
	var err error
	if resp == "" {
		if resp, err = c.challenge("VXNlcm5hbWU6"); err != nil { // "Username:"
			return "", "", c.challengeErr(err)
		}
	}
	if ub, rep = decodeAuth(resp); rep != nil {
		return "", "", rep
	}
	if resp, err = c.challenge("UGFzc3dvcmQ6"); err != nil { // "Password:"
		return "", "", c.challengeErr(err)
	}
	if pb, rep = decodeAuth(resp); rep != nil {
		return "", "", rep
	}
	return string(ub), string(pb), nil
}

// challenge sends a 334 and reads the client's response line.
func (c *conn) challenge(text string) (string, error) {
	c.reply(&smtp.Reply{Code: 334, Text: text})
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	if string(line) == "*" {
		return "", errAuthCancelled
	}
	return string(line), nil
}

func (c *conn) challengeErr(err error) *smtp.Reply {
	switch {
	case errors.Is(err, errAuthCancelled):
		return replyAuthCancel
	case errors.Is(err, errLineTooLong), errors.Is(err, errBareLF):
		return replyAuthBadB64
	}
	c.connError(err)
	c.quit = true
	return errConnReply
}

func decodeAuth(s string) ([]byte, *smtp.Reply) {
	if s == "=" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, replyAuthBadB64
	}
	return b, nil
}
