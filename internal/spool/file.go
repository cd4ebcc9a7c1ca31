package spool

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"

	"postern/internal/envelope"
)

// A queue file holds, in this order:
//
//	the message content, exactly as received (headers and body, CRLF lines)
//	the envelope in envelope.Encode's text form
//	a footer of footerLen bytes:
//	  "\nPOSTERN1 " content-length(16 hex) " " envelope-length(8 hex) " "
//	  crc32c(content)(8 hex) " " crc32c(envelope)(8 hex) "\n"
//
// The content comes first so that it can be streamed to disk while it is
// received and handed to delivery as a section starting at offset 0; the
// envelope is written at Commit, when the size is known. The footer's
// lengths must add up to the file size and its checksums must match, or
// the file is corrupt.

const (
	footerMagic = "\nPOSTERN1 "
	footerLen   = len(footerMagic) + 16 + 1 + 8 + 1 + 8 + 1 + 8 + 1
	maxEnvLen   = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFooter appends the footer for the given lengths and checksums.
func appendFooter(b []byte, contentLen int64, envLen int, crcContent, crcEnv uint32) []byte {
	b = append(b, footerMagic...)
	b = appendHex(b, uint64(contentLen), 16)
	b = append(b, ' ')
	b = appendHex(b, uint64(envLen), 8)
	b = append(b, ' ')
	b = appendHex(b, uint64(crcContent), 8)
	b = append(b, ' ')
	b = appendHex(b, uint64(crcEnv), 8)
	return append(b, '\n')
}

func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// footer is a parsed footer.
type footer struct {
	contentLen int64
	envLen     int
	crcContent uint32
	crcEnv     uint32
}

// parseFooter parses a footer of exactly footerLen bytes.
func parseFooter(b []byte) (footer, error) {
	var f footer
	if len(b) != footerLen || string(b[:len(footerMagic)]) != footerMagic || b[len(b)-1] != '\n' {
		return f, errors.New("no footer")
	}
	p := b[len(footerMagic) : len(b)-1]
	field := func(width int) (uint64, error) {
		if len(p) < width {
			return 0, errors.New("short footer")
		}
		s := string(p[:width])
		p = p[width:]
		if len(p) > 0 {
			if p[0] != ' ' {
				return 0, errors.New("bad footer separator")
			}
			p = p[1:]
		}
		for i := 0; i < len(s); i++ { // lower-case hex only, as written
			if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return 0, errors.New("bad footer digit")
			}
		}
		return strconv.ParseUint(s, 16, 64)
	}
	cl, err := field(16)
	if err != nil {
		return f, err
	}
	el, err := field(8)
	if err != nil {
		return f, err
	}
	cc, err := field(8)
	if err != nil {
		return f, err
	}
	ce, err := field(8)
	if err != nil {
		return f, err
	}
	if cl > 1<<50 || el > maxEnvLen {
		return f, errors.New("footer lengths out of range")
	}
	return footer{contentLen: int64(cl), envLen: int(el), crcContent: uint32(cc), crcEnv: uint32(ce)}, nil
}

// corruptError marks a queue file that failed its checks (as opposed to
// an I/O error while reading it).
type corruptError struct{ reason string }

func (e *corruptError) Error() string { return "corrupt queue file: " + e.reason }

func corruptf(format string, args ...any) error {
	return &corruptError{reason: fmt.Sprintf(format, args...)}
}

// readHeader reads and checks the footer and envelope of an open queue
// file (not the content: see verifyContent). Errors that are about the
// file's contents are *corruptError.
func readHeader(f *os.File, id string) (*envelope.Envelope, footer, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, footer{}, err
	}
	return decodeHeader(f, fi.Size(), id)
}

// decodeHeader is readHeader on any ReaderAt of the given size.
func decodeHeader(f io.ReaderAt, size int64, id string) (*envelope.Envelope, footer, error) {
	if size < int64(footerLen) {
		return nil, footer{}, corruptf("%d bytes, too short", size)
	}
	fb := make([]byte, footerLen)
	if _, err := f.ReadAt(fb, size-int64(footerLen)); err != nil {
		return nil, footer{}, err
	}
	ft, err := parseFooter(fb)
	if err != nil {
		return nil, footer{}, corruptf("%v", err)
	}
	if ft.contentLen+int64(ft.envLen)+int64(footerLen) != size {
		return nil, footer{}, corruptf("footer lengths %d+%d do not match the file size %d", ft.contentLen, ft.envLen, size)
	}
	eb := make([]byte, ft.envLen)
	if _, err := f.ReadAt(eb, ft.contentLen); err != nil {
		return nil, footer{}, err
	}
	if crc32.Checksum(eb, castagnoli) != ft.crcEnv {
		return nil, footer{}, corruptf("envelope checksum mismatch")
	}
	env, err := envelope.Decode(eb)
	if err != nil {
		return nil, footer{}, corruptf("%v", err)
	}
	if env.ID != id {
		return nil, footer{}, corruptf("envelope id %q in file %q", env.ID, id)
	}
	if env.Size != ft.contentLen {
		return nil, footer{}, corruptf("envelope size %d, content %d bytes", env.Size, ft.contentLen)
	}
	return env, ft, nil
}

// verifyContent checks the content checksum.
func verifyContent(f io.ReaderAt, ft footer) error {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, ft.contentLen)); err != nil {
		return err
	}
	if h.Sum32() != ft.crcContent {
		return corruptf("content checksum mismatch")
	}
	return nil
}
