package smtpd

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzConn feeds arbitrary client input to a connection: the server must
// not panic, every reply line must be well formed, and no accepted message
// may hold a bare CR, bare LF or NUL.
func FuzzConn(f *testing.F) {
	f.Add("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
	f.Add("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\n.\nMAIL FROM:<e@f.example>\r\n.\r\n")
	f.Add("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\n\r\n")
	f.Add("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 99 LAST\r\nshort")
	f.Add("HELO a\r\nAUTH PLAIN\r\n*\r\nSTARTTLS\r\nRSET\r\n")
	f.Add("EHLO a\nVRFY x\r\nEXPN y\r\n" + strings.Repeat("x", 3000) + "\r\nNOOP\r\n")
	f.Fuzz(func(t *testing.T, input string) {
		rec := &recorder{}
		srv := New(recBackend{rec}, slog.New(slog.DiscardHandler), Options{
			Hostname: "mx.example.test", Chunking: true, MaxMessageBytes: 4096,
			CommandTimeout: time.Second, DataTimeout: time.Second,
		})
		client, server := net.Pipe()
		c := srv.newConn(server, Listener{Name: "fuzz", Mode: ModeMTA})
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		var out bytes.Buffer
		readDone := make(chan struct{})
		go func() { io.Copy(&out, client); close(readDone) }()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(client, input)
		client.SetWriteDeadline(time.Time{})
		// Let the server answer what it read, then hang up.
		time.Sleep(time.Millisecond)
		client.Close()
		<-done
		<-readDone
		for _, line := range strings.SplitAfter(out.String(), "\r\n") {
			if line == "" {
				continue
			}
			if !strings.HasSuffix(line, "\r\n") || len(line) < 6 || line[3] != ' ' && line[3] != '-' {
				t.Fatalf("malformed reply line %q", line)
			}
		}
		for _, m := range rec.msgs() {
			for i := 0; i < len(m); i++ {
				switch m[i] {
				case 0:
					t.Fatalf("NUL in accepted message %q", m)
				case '\n':
					if i == 0 || m[i-1] != '\r' {
						t.Fatalf("bare LF in accepted message %q", m)
					}
				case '\r':
					if i+1 >= len(m) || m[i+1] != '\n' {
						t.Fatalf("bare CR in accepted message %q", m)
					}
				}
			}
		}
	})
}
