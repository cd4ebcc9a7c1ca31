package deliver

import (
	"context"
	"strings"
	"testing"

	"postern/internal/dnstest"
	"postern/internal/dsn"
)

// A recipient delivered to a next hop carries the hop's name and reply,
// and whether the hop offered DSN (and so got NOTIFY and ORCPT): that
// decides whether postern itself owes a "relayed" notice.
func TestRemoteHandoffs(t *testing.T) {
	for _, withDSN := range []bool{false, true} {
		ext := []string{"PIPELINING", "8BITMIME"}
		if withDSN {
			ext = append(ext, "DSN")
		}
		rx := startReceiver(t, &receiver{Ext: ext, Reply: func(cmd string, n int) string {
			if strings.Contains(cmd, "<nobody@") {
				return "550 5.1.1 no such user"
			}
			return ""
		}})
		r := newRemote(t, dnstest.Zone{"example.net. MX": {"5 mx.example.net."}, "mx.example.net. A": {"127.0.0.1"}}, rx.Port)
		env, rcpts, body := message("H1", "a@example.org", body1, "b@example.net", "nobody@example.net")
		env.DSNRet, env.EnvID = "HDRS", "e1"
		rcpts[0].Notify, rcpts[0].ORCPT = "SUCCESS", "rfc822;b@example.net"
		hs := &dsn.Handoffs{}
		errs := r.Deliver(dsn.WithHandoffs(context.Background(), hs), env, rcpts, body)
		if len(errs) != 2 {
			t.Fatalf("dsn=%v: %d results", withDSN, len(errs))
		}
		if errs[0] != nil {
			t.Fatalf("dsn=%v: %v", withDSN, errs[0])
		}
		wantReply(t, "refused recipient", errs[1], 550, "5.1.1")
		h := hs.Lookup("B@Example.net") // addresses compare without case
		if h.RemoteMTA != "mx.example.net" || h.Reply != "250 2.0.0 queued" || h.DSN != withDSN {
			t.Errorf("dsn=%v: handoff %+v", withDSN, h)
		}
		if h.Relayed() == withDSN || h.Passed() != withDSN {
			t.Errorf("dsn=%v: Relayed %v Passed %v", withDSN, h.Relayed(), h.Passed())
		}
		if h := hs.Lookup("nobody@example.net"); h.RemoteMTA != "" {
			t.Errorf("dsn=%v: handoff for a refused recipient: %+v", withDSN, h)
		}
		cmds := strings.Join(rx.Commands(), "\n")
		sent := strings.Contains(cmds, "NOTIFY=SUCCESS ORCPT=rfc822;b@example.net") && strings.Contains(cmds, "RET=HDRS ENVID=e1")
		if sent != withDSN {
			t.Errorf("dsn=%v: DSN parameters sent %v:\n%s", withDSN, sent, cmds)
		}

		// DeliverTo, as the mailertable routes use it, tells the same.
		env2, rcpts2, body2 := message("H2", "a@example.org", body1, "c@example.net")
		errs = r.DeliverTo(dsn.WithHandoffs(context.Background(), hs), Destination{Domain: "example.net"}, env2, rcpts2, body2)
		if h := hs.Lookup("c@example.net"); errs[0] != nil || h.RemoteMTA != "mx.example.net" || h.DSN != withDSN {
			t.Errorf("dsn=%v: DeliverTo %v %+v", withDSN, errs[0], h)
		}
		// Without Handoffs in the context nothing is recorded, nothing breaks.
		env3, rcpts3, body3 := message("H3", "a@example.org", body1, "d@example.net")
		if err := r.Deliver(context.Background(), env3, rcpts3, body3)[0]; err != nil {
			t.Errorf("dsn=%v: without Handoffs: %v", withDSN, err)
		}
	}
}
