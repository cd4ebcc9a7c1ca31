package deliver

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"postern/internal/smtp"
	"postern/internal/smtpclient"
)

// Replies for a message that needs an extension the next hop lacks.
var (
	// RFC 6531 3.5: a message that needs SMTPUTF8 is not sent to a server
	// without it; it is returned as undeliverable with 553 5.6.7.
	replyNeedsUTF8Addr   = &smtp.Reply{Code: 553, Enhanced: "5.6.7", Text: "non-ASCII address needs SMTPUTF8, which the next-hop server does not support"}
	replyNeedsUTF8Header = &smtp.Reply{Code: 553, Enhanced: "5.6.7", Text: "non-ASCII header field needs SMTPUTF8, which the next-hop server does not support"}
	// RFC 6152 3: 8-bit content goes to a server without 8BITMIME only
	// converted to 7-bit, or not at all; postern does not convert. RFC 3463
	// 3.7: X.6.3 conversion required but not supported.
	replyNeeds8bit  = &smtp.Reply{Code: 554, Enhanced: "5.6.3", Text: "8-bit content needs 8BITMIME, which the next-hop server does not support, and is not converted to 7-bit"}
	replyScanFailed = &smtp.Reply{Code: 451, Enhanced: "4.3.0", Text: "local error reading the message, will try again"}
)

// contentScan is what one pass over the stored message found. It is
// made at most once per delivery, and only when a next hop lacks
// SMTPUTF8 or 8BITMIME for a message that was received with them; the
// pass stops as soon as the answers are known.
type contentScan struct {
	body io.ReaderAt
	size int64

	off       int64 // bytes read so far
	inHeader  bool  // still in the header section
	lineEmpty bool  // no byte but CR on the current line yet
	err       error

	headerUTF8 bool // a byte >= 0x80 in the header section
	eightBit   bool // a byte >= 0x80 or a NUL anywhere
}

func newContentScan(body io.ReaderAt, size int64) *contentScan {
	return &contentScan{body: body, size: size, inHeader: true, lineEmpty: true}
}

// known reports whether the scan has the answers wanted: the header's
// alone (needBody false) or also the body's.
func (s *contentScan) known(needBody bool) bool {
	if s.headerUTF8 {
		return true // then eightBit is set as well
	}
	if s.inHeader {
		return s.off >= s.size
	}
	return !needBody || s.eightBit || s.off >= s.size
}

// run reads on from where the scan stopped until it knows what is asked.
func (s *contentScan) run(needBody bool) error {
	if s.err != nil {
		return s.err
	}
	buf := make([]byte, 32*1024)
read:
	for !s.known(needBody) {
		n := int64(len(buf))
		if rest := s.size - s.off; rest < n {
			n = rest
		}
		m, err := s.body.ReadAt(buf[:n], s.off)
		if m == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.err = fmt.Errorf("scanning the message at byte %d: %w", s.off, err)
			return s.err
		}
		for i, b := range buf[:m] {
			if b >= 0x80 || b == 0 {
				s.eightBit = true
				// RFC 6532 3.2: UTF-8 in header fields is what SMTPUTF8
				// announces besides addresses.
				if s.inHeader && b != 0 {
					s.headerUTF8 = true
				}
			}
			if s.inHeader {
				switch b {
				case '\n':
					if s.lineEmpty {
						// RFC 5322 2.1: an empty line ends the header section.
						s.inHeader = false
						s.off += int64(i + 1)
						continue read
					}
					s.lineEmpty = true
				case '\r':
				default:
					s.lineEmpty = false
				}
			} else if s.eightBit {
				s.off += int64(i + 1)
				continue read
			}
		}
		s.off += int64(m)
	}
	return nil
}

// asciiOnly reports whether s has no byte outside US-ASCII.
func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fitMessage drops SMTPUTF8 and BODY=8BITMIME from msg when the next hop
// (ext) does not offer them and the message does not need them, as
// Postfix does (smtputf8_autodetect, and its 8BITMIME handling). It
// returns what was dropped, for the log, or the permanent reply when the
// message cannot go to this server. scan is shared by the servers of one
// delivery and read only when needed.
func fitMessage(ext smtpclient.Extensions, msg *smtpclient.Message, scan *contentScan) ([]string, error) {
	var dropped []string
	if msg.SMTPUTF8 && !ext.Has("SMTPUTF8") {
		// RFC 6531 3.4: SMTPUTF8 is needed for non-ASCII envelope
		// addresses (of this transaction: its recipients only) and for
		// UTF-8 header fields (RFC 6532); without either the message is
		// a plain one and goes without the parameter.
		ascii := asciiOnly(msg.From)
		for _, r := range msg.Rcpts {
			_, orcpt, _ := strings.Cut(r.ORCPT, ";")
			ascii = ascii && asciiOnly(r.Addr) && asciiOnly(orcpt)
		}
		if !ascii {
			return nil, replyNeedsUTF8Addr
		}
		if err := scan.run(false); err != nil {
			return nil, replyScanFailed.With(err)
		}
		if scan.headerUTF8 {
			return nil, replyNeedsUTF8Header
		}
		if msg.Body == "" {
			// RFC 6531 3.1: a server offering SMTPUTF8 also takes 8-bit
			// content, so a client may send it without BODY=8BITMIME.
			// Without SMTPUTF8 the BODY parameter has to say it.
			if err := scan.run(true); err != nil {
				return nil, replyScanFailed.With(err)
			}
			if scan.eightBit {
				msg.Body = "8BITMIME"
			}
		}
		msg.SMTPUTF8 = false
		dropped = append(dropped, "smtputf8")
	}
	if strings.EqualFold(msg.Body, "8BITMIME") && !ext.Has("8BITMIME") {
		// RFC 6152 3: content that is 7-bit after all may go to a server
		// without 8BITMIME, without the BODY parameter.
		if err := scan.run(true); err != nil {
			return nil, replyScanFailed.With(err)
		}
		if scan.eightBit {
			return nil, replyNeeds8bit
		}
		msg.Body = ""
		dropped = append(dropped, "8bitmime")
	}
	return dropped, nil
}
